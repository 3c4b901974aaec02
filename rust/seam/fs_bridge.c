// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of ckpt_pty's filesystem seam (rust/seam/fs.rs is the Rust
 * half): the `ckptpts` filesystem, where the pty nodes live (one mount = one
 * instance = one index space, like devpts), and an unregistered, owner-less
 * twin that the module mounts for its own opens of slave ttys (a kernel
 * mount of a type with an owner would pin the module for good).
 *
 * As in tty_bridge.c, only tables, the superblock and node mechanics and
 * one-line accessors live here; what an instance holds, who owns a node and
 * what a mount option means is decided in Rust (`ckpt_pty_rs_*`).
 */
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/statfs.h>
#include <linux/uidgid.h>

#define CKPT_PTS_SUPER_MAGIC 0x636b7074 /* "ckpt" */

/* Implemented in Rust: rust/seam/fs.rs (entry points). */
int ckpt_pty_rs_fill_super(struct super_block *sb, const char *options);
void ckpt_pty_rs_kill_sb(struct super_block *sb);
void ckpt_pty_rs_node_release(void *private);
void ckpt_pty_rs_show_options(struct super_block *sb, u32 *values);

/* Called from Rust. */
int ckpt_pty_fs_register(void);
void ckpt_pty_fs_unregister(void);
struct vfsmount *ckpt_pty_internal_mount(void);
void *ckpt_pty_sb_info(const struct super_block *sb);
void ckpt_pty_sb_set_info(struct super_block *sb, void *info);
struct super_block *ckpt_pty_internal_sb(struct vfsmount *mnt);
void ckpt_pty_sb_pin(struct super_block *sb);
struct dentry *ckpt_pty_node_create(struct super_block *sb, const char *name, umode_t mode,
				    dev_t dev, u32 uid, u32 gid, void *private);
void ckpt_pty_node_remove(struct dentry *dentry);
struct dentry *ckpt_pty_dget(struct dentry *dentry);
void ckpt_pty_node_set_owner(struct dentry *dentry, u32 uid, u32 gid, umode_t mode);
void ckpt_pty_node_owner(struct dentry *dentry, u32 *uid, u32 *gid, umode_t *mode);
void *ckpt_pty_file_node_data(const struct file *file);
int ckpt_pty_instance_root(const struct file *file, struct path *out);
struct file *ckpt_pty_path_open(const struct path *path, struct dentry *dentry, int flags);
u32 ckpt_pty_current_fsuid(void);
u32 ckpt_pty_current_fsgid(void);
int ckpt_pty_uid_from_user(u32 uid, u32 *kuid);
int ckpt_pty_gid_from_user(u32 gid, u32 *kgid);
u32 ckpt_pty_uid_to_user(u32 kuid);
u32 ckpt_pty_gid_to_user(u32 kgid);

static struct file_system_type ckpt_pty_fs_type;
static struct file_system_type ckpt_pty_internal_fs_type;

/* Drops what the inode's i_private holds (a pair), once the inode dies. */
static void ckpt_pty_evict_inode(struct inode *inode)
{
	void *private = inode->i_private;

	clear_inode(inode);
	inode->i_private = NULL;
	if (private)
		ckpt_pty_rs_node_release(private);
}

enum { CKPT_OPT_UID, CKPT_OPT_GID, CKPT_OPT_MODE, CKPT_OPT_PTMXMODE, CKPT_OPT_MAX,
       CKPT_OPT_BSD, CKPT_OPT_COUNT };

static int ckpt_pty_show_options(struct seq_file *seq, struct dentry *root)
{
	u32 v[CKPT_OPT_COUNT];

	ckpt_pty_rs_show_options(root->d_sb, v);
	/* U32_MAX: not given. */
	if (v[CKPT_OPT_UID] != U32_MAX)
		seq_printf(seq, ",uid=%u", v[CKPT_OPT_UID]);
	if (v[CKPT_OPT_GID] != U32_MAX)
		seq_printf(seq, ",gid=%u", v[CKPT_OPT_GID]);
	seq_printf(seq, ",mode=%03o,ptmxmode=%03o,max=%u,bsd=%u",
		   v[CKPT_OPT_MODE], v[CKPT_OPT_PTMXMODE], v[CKPT_OPT_MAX], v[CKPT_OPT_BSD]);
	return 0;
}

static const struct super_operations ckpt_pty_sops = {
	.statfs = simple_statfs,
	.evict_inode = ckpt_pty_evict_inode,
	.show_options = ckpt_pty_show_options,
};

static const struct super_operations ckpt_pty_internal_sops = {
	.statfs = simple_statfs,
	.evict_inode = ckpt_pty_evict_inode,
};

/* The root directory of an instance; Rust then adds its nodes. */
static int ckpt_pty_fill_root(struct super_block *sb, const struct super_operations *sops)
{
	struct inode *inode;

	sb->s_iflags &= ~SB_I_NODEV;
	sb->s_blocksize = 1024;
	sb->s_blocksize_bits = 10;
	sb->s_magic = CKPT_PTS_SUPER_MAGIC;
	sb->s_op = sops;
	sb->s_d_op = &simple_dentry_operations;
	sb->s_time_gran = 1;

	inode = new_inode(sb);
	if (!inode)
		return -ENOMEM;
	inode->i_ino = 1;
	simple_inode_init_ts(inode);
	inode->i_mode = S_IFDIR | 0755;
	inode->i_op = &simple_dir_inode_operations;
	inode->i_fop = &simple_dir_operations;
	set_nlink(inode, 2);
	sb->s_root = d_make_root(inode);
	return sb->s_root ? 0 : -ENOMEM;
}

static int ckpt_pty_fill_super(struct super_block *sb, void *data, int silent)
{
	int err = ckpt_pty_fill_root(sb, &ckpt_pty_sops);

	if (err)
		return err;
	/* On failure the VFS calls kill_sb, which releases what Rust made. */
	return ckpt_pty_rs_fill_super(sb, data ? data : "");
}

static struct dentry *ckpt_pty_mount(struct file_system_type *type, int flags,
				     const char *dev_name, void *data)
{
	return mount_nodev(type, flags, data, ckpt_pty_fill_super);
}

static void ckpt_pty_kill_sb(struct super_block *sb)
{
	ckpt_pty_rs_kill_sb(sb);
	kill_litter_super(sb);
}

static struct file_system_type ckpt_pty_fs_type = {
	.owner = THIS_MODULE,
	.name = "ckptpts",
	.mount = ckpt_pty_mount,
	.kill_sb = ckpt_pty_kill_sb,
	.fs_flags = FS_USERNS_MOUNT,
};

static int ckpt_pty_internal_fill_super(struct super_block *sb, void *data, int silent)
{
	return ckpt_pty_fill_root(sb, &ckpt_pty_internal_sops);
}

static struct dentry *ckpt_pty_internal_fs_mount(struct file_system_type *type, int flags,
						 const char *dev_name, void *data)
{
	return mount_nodev(type, flags, data, ckpt_pty_internal_fill_super);
}

/* No owner: the module's own kern_mount must not pin the module. */
static struct file_system_type ckpt_pty_internal_fs_type = {
	.name = "ckptpts_internal",
	.mount = ckpt_pty_internal_fs_mount,
	.kill_sb = kill_litter_super,
};

int ckpt_pty_fs_register(void)
{
	return register_filesystem(&ckpt_pty_fs_type);
}

void ckpt_pty_fs_unregister(void)
{
	unregister_filesystem(&ckpt_pty_fs_type);
}

struct vfsmount *ckpt_pty_internal_mount(void)
{
	return kern_mount(&ckpt_pty_internal_fs_type);
}

struct super_block *ckpt_pty_internal_sb(struct vfsmount *mnt)
{
	return mnt->mnt_sb;
}

/* The instance of a ckptpts superblock, NULL for any other filesystem. */
void *ckpt_pty_sb_info(const struct super_block *sb)
{
	return sb->s_type == &ckpt_pty_fs_type ? sb->s_fs_info : NULL;
}

void ckpt_pty_sb_set_info(struct super_block *sb, void *info)
{
	sb->s_fs_info = info;
}

/* An active reference (as devpts_acquire takes): undone by deactivate_super. */
void ckpt_pty_sb_pin(struct super_block *sb)
{
	atomic_inc(&sb->s_active);
}

/*
 * A character-device node NAME in SB's root. On success the inode owns
 * PRIVATE (released by evict_inode) and the caller owns one reference on
 * the returned dentry.
 */
struct dentry *ckpt_pty_node_create(struct super_block *sb, const char *name, umode_t mode,
				    dev_t dev, u32 uid, u32 gid, void *private)
{
	struct dentry *root = sb->s_root;
	struct dentry *dentry;
	struct inode *inode;

	inode = new_inode(sb);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_ino = get_next_ino();
	inode->i_uid = KUIDT_INIT(uid);
	inode->i_gid = KGIDT_INIT(gid);
	simple_inode_init_ts(inode);
	init_special_inode(inode, S_IFCHR | (mode & 07777), dev);

	inode_lock(d_inode(root));
	dentry = d_alloc_name(root, name);
	if (dentry) {
		inode->i_private = private;
		d_add(dentry, inode);
	}
	inode_unlock(d_inode(root));
	if (!dentry) {
		iput(inode);
		return ERR_PTR(-ENOMEM);
	}
	return dentry;
}

/* Unlinks a node made by ckpt_pty_node_create and drops its reference. */
void ckpt_pty_node_remove(struct dentry *dentry)
{
	struct inode *dir = d_inode(dentry->d_sb->s_root);

	inode_lock(dir);
	drop_nlink(d_inode(dentry));
	d_drop(dentry);
	inode_unlock(dir);
	dput(dentry);
}

struct dentry *ckpt_pty_dget(struct dentry *dentry)
{
	return dget(dentry);
}

void ckpt_pty_node_set_owner(struct dentry *dentry, u32 uid, u32 gid, umode_t mode)
{
	struct inode *inode = d_inode(dentry);

	inode_lock(inode);
	inode->i_uid = KUIDT_INIT(uid);
	inode->i_gid = KGIDT_INIT(gid);
	inode->i_mode = S_IFCHR | (mode & 07777);
	inode_unlock(inode);
}

void ckpt_pty_node_owner(struct dentry *dentry, u32 *uid, u32 *gid, umode_t *mode)
{
	struct inode *inode = d_inode(dentry);

	*uid = __kuid_val(inode->i_uid);
	*gid = __kgid_val(inode->i_gid);
	*mode = inode->i_mode & 07777;
}

/* What a node of ours carries; NULL for a file of any other filesystem. */
void *ckpt_pty_file_node_data(const struct file *file)
{
	struct inode *inode = file_inode(file);
	struct file_system_type *type = inode->i_sb->s_type;

	if (type != &ckpt_pty_fs_type && type != &ckpt_pty_internal_fs_type)
		return NULL;
	return inode->i_private;
}

/*
 * The root of the ckptpts instance a ptmx-like file was opened through
 * (devpts_mntget's rule): the file's own mount if it is ckptpts (walking up
 * bind mounts of single files first), else a ckptpts mounted on "pts" in
 * the file's directory (so /dev/ckpt/ptmx finds /dev/ckpt/pts).
 */
int ckpt_pty_instance_root(const struct file *file, struct path *out)
{
	struct path path = file->f_path;
	struct dentry *parent;
	int err;

	path_get(&path);
	while (path.mnt->mnt_root == path.dentry)
		if (follow_up(&path) == 0)
			break;
	if (path.mnt->mnt_sb->s_type == &ckpt_pty_fs_type &&
	    path.mnt->mnt_root == path.mnt->mnt_sb->s_root) {
		dput(path.dentry);
		path.dentry = dget(path.mnt->mnt_root);
		*out = path;
		return 0;
	}
	parent = dget_parent(path.dentry);
	err = vfs_path_lookup(parent, path.mnt, "pts", 0, out);
	dput(parent);
	path_put(&path);
	if (err)
		return err == -ENOENT ? -ENODEV : err;
	if (out->mnt->mnt_sb->s_type != &ckpt_pty_fs_type ||
	    out->mnt->mnt_root != out->dentry) {
		path_put(out);
		return -ENODEV;
	}
	return 0;
}

/* Opens DENTRY, a node below PATH's mount, with the caller's credentials. */
struct file *ckpt_pty_path_open(const struct path *path, struct dentry *dentry, int flags)
{
	struct path node = { .mnt = path->mnt, .dentry = dentry };

	return dentry_open(&node, flags, current_cred());
}

u32 ckpt_pty_current_fsuid(void)
{
	return __kuid_val(current_fsuid());
}

u32 ckpt_pty_current_fsgid(void)
{
	return __kgid_val(current_fsgid());
}

int ckpt_pty_uid_from_user(u32 uid, u32 *kuid)
{
	kuid_t k = make_kuid(current_user_ns(), uid);

	*kuid = __kuid_val(k);
	return uid_valid(k) ? 0 : -EINVAL;
}

int ckpt_pty_gid_from_user(u32 gid, u32 *kgid)
{
	kgid_t k = make_kgid(current_user_ns(), gid);

	*kgid = __kgid_val(k);
	return gid_valid(k) ? 0 : -EINVAL;
}

u32 ckpt_pty_uid_to_user(u32 kuid)
{
	return from_kuid_munged(current_user_ns(), KUIDT_INIT(kuid));
}

u32 ckpt_pty_gid_to_user(u32 kgid)
{
	return from_kgid_munged(current_user_ns(), KGIDT_INIT(kgid));
}
