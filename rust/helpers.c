// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers for static inline kernel functions and macros that Rust
 * bindings cannot reach, in the style of the kernel's rust/helpers/. All logic
 * stays in Rust; nothing here may grow beyond a forwarding call.
 */
#include <linux/capability.h>
#include <linux/cdev.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include <linux/net.h>
#include <net/sock.h>

/* Prototypes keep -Wmissing-prototypes quiet; callers are in Rust. */
void ckpt_pty_poll_wait(struct file *filp, wait_queue_head_t *head, poll_table *p);
unsigned int ckpt_pty_iminor(const struct inode *inode);
void ckpt_pty_wake_up_interruptible_poll(wait_queue_head_t *head, __poll_t mask);
struct cdev *ckpt_pty_cdev_alloc(const struct file_operations *fops);

void ckpt_pty_poll_wait(struct file *filp, wait_queue_head_t *head, poll_table *p)
{
	poll_wait(filp, head, p);
}

unsigned int ckpt_pty_iminor(const struct inode *inode)
{
	return iminor(inode);
}

/*
 * Most wake-ups of a busy pty find nobody polling: skip the wait queue's
 * lock then. wq_has_sleeper() orders this check after the caller's state
 * change, against poll_wait()'s registration before the poller looks at
 * that state (the usual pairing; see its comment in wait.h).
 */
void ckpt_pty_wake_up_interruptible_poll(wait_queue_head_t *head, __poll_t mask)
{
	if (wq_has_sleeper(head))
		wake_up_interruptible_poll(head, mask);
}

/* struct cdev is opaque to 6.12's bindings: allocate and fill it here. */
struct cdev *ckpt_pty_cdev_alloc(const struct file_operations *fops)
{
	struct cdev *cdev = cdev_alloc();

	if (cdev) {
		cdev->owner = fops->owner;
		cdev->ops = fops;
	}
	return cdev;
}

u16 ckpt_pty_sock_protocol(struct socket *sock);
void ckpt_pty_sockfd_put(struct socket *sock);

u16 ckpt_pty_sock_protocol(struct socket *sock)
{
	return sock->sk ? sock->sk->sk_protocol : 0;
}

void ckpt_pty_sockfd_put(struct socket *sock)
{
	sockfd_put(sock);
}
