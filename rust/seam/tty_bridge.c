// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of ckpt_pty's tty seam (rust/seam/tty.rs is the Rust half).
 *
 * Kernel 6.12's Rust bindings know `struct tty_struct` only as an opaque
 * name and do not have `struct tty_driver`, `struct tty_operations`,
 * `struct tty_ldisc_ops`, `struct tty_port` or `struct ktermios` at all,
 * and `bindings_helper.h` cannot be extended from out of tree. So this file
 * holds exactly three kinds of thing:
 *
 *  - the two operation tables (the slave tty driver's and the line
 *    discipline's), whose entries are Rust functions (`ckpt_pty_rs_*`);
 *  - the tty driver's `install`, which does the tty core's standard
 *    installation minus the `driver->ttys[]` table we do not have;
 *  - accessors: one field or one inline kernel function each.
 *
 * Every decision (which pair, who may open, what a byte means, job control)
 * is made in Rust. See Documentation/design.rst, "The tty seam".
 */
#include <linux/cdev.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
#include <linux/tty_ldisc.h>
#include <linux/tty_port.h>

/* The line discipline number ckpt_pty registers (N_DEVELOPMENT). */
#define CKPT_PTY_LDISC N_DEVELOPMENT

/* The Rust side relies on these layouts (rust/seam/tty.rs). */
static_assert(sizeof(struct ktermios) == 44);
static_assert(offsetof(struct ktermios, c_ispeed) == 36);
static_assert(sizeof(struct winsize) == 8);

/* Declared only in the tty core's private drivers/tty/tty.h. */
int tty_check_change(struct tty_struct *tty);

/* Implemented in Rust: rust/seam/tty.rs (entry points). */
struct tty_struct *ckpt_pty_rs_lookup(struct tty_driver *driver, struct file *file, int idx);
struct tty_port *ckpt_pty_rs_install(struct tty_driver *driver, struct tty_struct *tty);
int ckpt_pty_rs_open(struct tty_struct *tty, struct file *file);
void ckpt_pty_rs_close(struct tty_struct *tty, struct file *file);
void ckpt_pty_rs_cleanup(struct tty_struct *tty);
ssize_t ckpt_pty_rs_write(struct tty_struct *tty, const u8 *buf, size_t count);
unsigned int ckpt_pty_rs_write_room(struct tty_struct *tty);
int ckpt_pty_rs_ioctl(struct tty_struct *tty, unsigned int cmd, unsigned long arg);
void ckpt_pty_rs_set_termios(struct tty_struct *tty, const struct ktermios *old);
int ckpt_pty_rs_resize(struct tty_struct *tty, struct winsize *ws);
int ckpt_pty_rs_ldisc_ok(struct tty_struct *tty, int ldisc);
int ckpt_pty_rs_ldisc_open(struct tty_struct *tty);
void ckpt_pty_rs_ldisc_close(struct tty_struct *tty);
void ckpt_pty_rs_ldisc_flush_buffer(struct tty_struct *tty);
ssize_t ckpt_pty_rs_ldisc_read(struct tty_struct *tty, struct file *file, u8 *buf,
			       size_t nr, void **cookie, unsigned long offset);
ssize_t ckpt_pty_rs_ldisc_write(struct tty_struct *tty, struct file *file,
				const u8 *buf, size_t nr);
int ckpt_pty_rs_ldisc_ioctl(struct tty_struct *tty, unsigned int cmd, unsigned long arg);
void ckpt_pty_rs_ldisc_set_termios(struct tty_struct *tty, const struct ktermios *old);
__poll_t ckpt_pty_rs_ldisc_poll(struct tty_struct *tty, struct file *file,
				struct poll_table_struct *wait);
void ckpt_pty_rs_ldisc_hangup(struct tty_struct *tty);
void ckpt_pty_rs_ldisc_receive_buf(struct tty_struct *tty, const u8 *cp,
				   const u8 *fp, size_t count);

/* Called from Rust (prototypes keep -Wmissing-prototypes quiet). */
struct tty_driver *ckpt_pty_tty_driver_alloc(const char *driver_name, const char *name,
					     unsigned int lines);
void ckpt_pty_tty_driver_destroy(struct tty_driver *driver);
int ckpt_pty_ldisc_register(void);
void ckpt_pty_ldisc_unregister(void);
struct tty_port *ckpt_pty_port_alloc(void);
void ckpt_pty_port_free(struct tty_port *port);
void *ckpt_pty_tty_driver_data(const struct tty_struct *tty);
void ckpt_pty_tty_set_driver_data(struct tty_struct *tty, void *data);
struct tty_driver *ckpt_pty_tty_driver(const struct tty_struct *tty);
int ckpt_pty_tty_count(const struct tty_struct *tty);
void ckpt_pty_tty_termios(const struct tty_struct *tty, struct ktermios *out);
void ckpt_pty_tty_set_cflag(struct tty_struct *tty, unsigned int cflag);
void ckpt_pty_tty_store_termios(struct tty_struct *tty, const struct ktermios *t);
void ckpt_pty_tty_store_winsize(struct tty_struct *tty, const struct winsize *ws);
int ckpt_pty_tty_exclusive(const struct tty_struct *tty);
void ckpt_pty_tty_set_exclusive(struct tty_struct *tty, int on);
int ckpt_pty_tty_is_current_ctty(const struct tty_struct *tty);
struct pid *ckpt_pty_tty_session(struct tty_struct *tty);
struct tty_struct *ckpt_pty_file_tty(const struct file *file);
long ckpt_pty_file_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
struct file *ckpt_pty_get_file(struct file *file);
int ckpt_pty_current_in_pgrp(const struct pid *pgrp);
int ckpt_pty_signal_ignored(int sig);
int ckpt_pty_current_pgrp_orphaned(void);
void ckpt_pty_signal_current_pgrp(int sig);
void ckpt_pty_cond_resched(void);
int ckpt_pty_tty_driver_major(const struct tty_driver *driver);
void ckpt_pty_tty_lock_line(struct tty_struct *tty);

static struct tty_ldisc_ops ckpt_pty_ldisc_ops;

/*
 * The tty core's standard install (tty_standard_install) without the
 * `driver->ttys[]` table, which a driver that finds its ttys by dentry
 * (TTY_DRIVER_DEVPTS_MEM + lookup, as devpts does) does not have. Rust
 * decides whether this tty may be created and returns its pair's port.
 */
static int ckpt_pty_install(struct tty_driver *driver, struct tty_struct *tty)
{
	struct tty_port *port = ckpt_pty_rs_install(driver, tty);

	if (IS_ERR(port))
		return PTR_ERR(port);
	/*
	 * Our discipline from the start: alloc_tty_struct attached N_TTY, which
	 * tty_init_dev would open right after install; its ops are swapped for
	 * ours first, so N_TTY never runs on this tty. The module reference
	 * tty_ldisc_get took for N_TTY's ops (a builtin: none) becomes one on
	 * ours, which tty_ldisc_put drops.
	 */
	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	tty->ldisc->ops = &ckpt_pty_ldisc_ops;
	tty->port = port;
	tty_init_termios(tty);
	tty->termios_locked.c_line = 0xff;
	tty_driver_kref_get(driver);
	tty->count++;
	return 0;
}

/* Nothing to remove: there is no `driver->ttys[]` table. */
static void ckpt_pty_remove(struct tty_driver *driver, struct tty_struct *tty)
{
}

static const struct tty_operations ckpt_pty_slave_ops = {
	.lookup = ckpt_pty_rs_lookup,
	.install = ckpt_pty_install,
	.remove = ckpt_pty_remove,
	.open = ckpt_pty_rs_open,
	.close = ckpt_pty_rs_close,
	.cleanup = ckpt_pty_rs_cleanup,
	.write = ckpt_pty_rs_write,
	.write_room = ckpt_pty_rs_write_room,
	.ioctl = ckpt_pty_rs_ioctl,
	.set_termios = ckpt_pty_rs_set_termios,
	.resize = ckpt_pty_rs_resize,
	.ldisc_ok = ckpt_pty_rs_ldisc_ok,
};

static struct tty_ldisc_ops ckpt_pty_ldisc_ops = {
	.owner = THIS_MODULE,
	.num = CKPT_PTY_LDISC,
	.name = "ckpt_ldterm",
	.open = ckpt_pty_rs_ldisc_open,
	.close = ckpt_pty_rs_ldisc_close,
	.flush_buffer = ckpt_pty_rs_ldisc_flush_buffer,
	.read = ckpt_pty_rs_ldisc_read,
	.write = ckpt_pty_rs_ldisc_write,
	.ioctl = ckpt_pty_rs_ldisc_ioctl,
	.set_termios = ckpt_pty_rs_ldisc_set_termios,
	.poll = ckpt_pty_rs_ldisc_poll,
	.hangup = ckpt_pty_rs_ldisc_hangup,
	.receive_buf = ckpt_pty_rs_ldisc_receive_buf,
};

/*
 * A pty-slave tty driver whose ttys are found by dentry, never get sysfs
 * devices, and start from the pty slave's termios with our ldisc in c_line
 * (a hangup copies init_termios back and the next open rebuilds the ldisc
 * from c_line, so N_TTY never comes back).
 */
struct tty_driver *ckpt_pty_tty_driver_alloc(const char *driver_name, const char *name,
					     unsigned int lines)
{
	struct tty_driver *driver;

	driver = tty_alloc_driver(lines, TTY_DRIVER_RESET_TERMIOS | TTY_DRIVER_REAL_RAW |
					 TTY_DRIVER_DYNAMIC_DEV | TTY_DRIVER_DEVPTS_MEM |
					 TTY_DRIVER_DYNAMIC_ALLOC);
	if (IS_ERR(driver))
		return driver;
	driver->driver_name = driver_name;
	driver->name = name;
	driver->major = 0;
	driver->minor_start = 0;
	driver->type = TTY_DRIVER_TYPE_PTY;
	driver->subtype = PTY_TYPE_SLAVE;
	driver->init_termios = tty_std_termios;
	driver->init_termios.c_cflag = B38400 | CS8 | CREAD;
	driver->init_termios.c_ispeed = 38400;
	driver->init_termios.c_ospeed = 38400;
	driver->init_termios.c_line = CKPT_PTY_LDISC;
	tty_set_operations(driver, &ckpt_pty_slave_ops);
	return driver;
}

/*
 * Unregisters and frees a driver made by ckpt_pty_tty_driver_alloc.
 * destruct_tty_driver() walks driver->termios[] for an installed driver,
 * which TTY_DRIVER_DEVPTS_MEM drivers do not have (devpts' own driver is
 * never freed): do the rest of its installed-driver teardown here (the
 * one cdev of a DYNAMIC_ALLOC driver; no /proc entry exists without
 * proc_show), then let the last reference free it.
 */
void ckpt_pty_tty_driver_destroy(struct tty_driver *driver)
{
	tty_unregister_driver(driver);
	if (driver->flags & TTY_DRIVER_INSTALLED) {
		cdev_del(driver->cdevs[0]);
		driver->flags &= ~TTY_DRIVER_INSTALLED;
	}
	tty_driver_kref_put(driver);
}

int ckpt_pty_ldisc_register(void)
{
	return tty_register_ldisc(&ckpt_pty_ldisc_ops);
}

void ckpt_pty_ldisc_unregister(void)
{
	tty_unregister_ldisc(&ckpt_pty_ldisc_ops);
}

/* A pair's tty_port: the tty core wants one (flip buffers, itty). */
struct tty_port *ckpt_pty_port_alloc(void)
{
	struct tty_port *port = kzalloc(sizeof(*port), GFP_KERNEL);

	if (port)
		tty_port_init(port);
	return port;
}

void ckpt_pty_port_free(struct tty_port *port)
{
	tty_port_destroy(port);
	kfree(port);
}

void *ckpt_pty_tty_driver_data(const struct tty_struct *tty)
{
	return tty->driver_data;
}

void ckpt_pty_tty_set_driver_data(struct tty_struct *tty, void *data)
{
	tty->driver_data = data;
}

struct tty_driver *ckpt_pty_tty_driver(const struct tty_struct *tty)
{
	return tty->driver;
}

int ckpt_pty_tty_count(const struct tty_struct *tty)
{
	return tty->count;
}

/* Callers hold termios_rwsem or accept a racy snapshot. */
void ckpt_pty_tty_termios(const struct tty_struct *tty, struct ktermios *out)
{
	*out = tty->termios;
}

/* Only from the driver's set_termios, which runs under termios_rwsem. */
void ckpt_pty_tty_set_cflag(struct tty_struct *tty, unsigned int cflag)
{
	tty->termios.c_cflag = cflag;
}

void ckpt_pty_tty_store_termios(struct tty_struct *tty, const struct ktermios *t)
{
	down_write(&tty->termios_rwsem);
	tty->termios = *t;
	up_write(&tty->termios_rwsem);
}

void ckpt_pty_tty_store_winsize(struct tty_struct *tty, const struct winsize *ws)
{
	mutex_lock(&tty->winsize_mutex);
	tty->winsize = *ws;
	mutex_unlock(&tty->winsize_mutex);
}

int ckpt_pty_tty_exclusive(const struct tty_struct *tty)
{
	return test_bit(TTY_EXCLUSIVE, &tty->flags);
}

void ckpt_pty_tty_set_exclusive(struct tty_struct *tty, int on)
{
	if (on)
		set_bit(TTY_EXCLUSIVE, &tty->flags);
	else
		clear_bit(TTY_EXCLUSIVE, &tty->flags);
}

int ckpt_pty_tty_is_current_ctty(const struct tty_struct *tty)
{
	return current->signal->tty == tty;
}

/* A counted reference to the tty's session, or NULL. */
struct pid *ckpt_pty_tty_session(struct tty_struct *tty)
{
	unsigned long flags;
	struct pid *session;

	spin_lock_irqsave(&tty->ctrl.lock, flags);
	session = get_pid(tty->ctrl.session);
	spin_unlock_irqrestore(&tty->ctrl.lock, flags);
	return session;
}

/* The tty of a file opened on a tty node (tty_open sets private_data). */
struct tty_struct *ckpt_pty_file_tty(const struct file *file)
{
	return ((struct tty_file_private *)file->private_data)->tty;
}

long ckpt_pty_file_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	if (!file->f_op->unlocked_ioctl)
		return -ENOTTY;
	return file->f_op->unlocked_ioctl(file, cmd, arg);
}

struct file *ckpt_pty_get_file(struct file *file)
{
	return get_file(file);
}

int ckpt_pty_current_in_pgrp(const struct pid *pgrp)
{
	int same;

	rcu_read_lock();
	same = task_pgrp(current) == pgrp;
	rcu_read_unlock();
	return same;
}

/* n_tty's is_ignored(): the signal is blocked or its action is SIG_IGN. */
int ckpt_pty_signal_ignored(int sig)
{
	return sigismember(&current->blocked, sig) ||
	       current->sighand->action[sig - 1].sa.sa_handler == SIG_IGN;
}

/*
 * kernel/exit.c's is_current_pgrp_orphaned(), which is not exported (nor is
 * tasklist_lock): the same walk under RCU, which keeps the pid's task lists
 * and the parents' pids valid.
 */
int ckpt_pty_current_pgrp_orphaned(void)
{
	struct pid *pgrp;
	struct task_struct *p;
	int orphaned = 1;

	rcu_read_lock();
	pgrp = task_pgrp(current);
	do_each_pid_task(pgrp, PIDTYPE_PGID, p) {
		struct task_struct *parent = rcu_dereference(p->real_parent);

		if ((p->exit_state && thread_group_empty(p)) || is_global_init(parent))
			continue;
		if (task_pgrp(parent) != pgrp && task_session(parent) == task_session(p)) {
			orphaned = 0;
			break;
		}
	} while_each_pid_task(pgrp, PIDTYPE_PGID, p);
	rcu_read_unlock();
	return orphaned;
}

/* Job-control stop of the caller's group, as __tty_check_change does. */
void ckpt_pty_signal_current_pgrp(int sig)
{
	rcu_read_lock();
	kill_pgrp(task_pgrp(current), sig, 1);
	rcu_read_unlock();
	set_thread_flag(TIF_SIGPENDING);
}

/*
 * A scheduling point for loops over many pairs: cond_resched() is a macro
 * (or a static call), not a symbol every kernel exports.
 */
void ckpt_pty_cond_resched(void)
{
	cond_resched();
}

int ckpt_pty_tty_driver_major(const struct tty_driver *driver)
{
	return driver->major;
}

/* Keeps c_line (our ldisc) whatever TCSETS* ask (unset_locked_termios). */
void ckpt_pty_tty_lock_line(struct tty_struct *tty)
{
	down_write(&tty->termios_rwsem);
	tty->termios_locked.c_line = 0xff;
	up_write(&tty->termios_rwsem);
}
