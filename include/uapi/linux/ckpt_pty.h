/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ckpt_pty: pseudo terminals that can be checkpointed and restarted while
 * the user stays logged in. The user-space interface of the module.
 *
 * Nodes: a ckptpts mount (mount -t ckptpts none DIR) is one instance with
 * DIR/ptmx (clone master), DIR/N (slave ttys), DIR/control (restart
 * sessions), DIR/ptyN and DIR/ttyN (BSD pairs). /dev/ckpt/ptmx and
 * /dev/ckpt/control act on the instance mounted at /dev/ckpt/pts.
 *
 * Besides the ioctls below, the ends answer Linux's tty ioctls as a native
 * pty does (<asm/ioctls.h>). This header mirrors rust/uapi.rs; a test in
 * `make check` compiles it and compares every number, size and offset with
 * the Rust definitions.
 */
#ifndef _UAPI_LINUX_CKPT_PTY_H
#define _UAPI_LINUX_CKPT_PTY_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Default paths and names. */
#define CKPT_PTY_PTMX_PATH	"/dev/ckpt/ptmx"
#define CKPT_PTY_PTS_DIR	"/dev/ckpt/pts"
#define CKPT_PTY_CONTROL_PATH	"/dev/ckpt/control"
#define CKPT_PTY_FS_TYPE	"ckptpts"

/* The slaves' line discipline (N_DEVELOPMENT): TIOCGETD and c_line. */
#define CKPT_PTY_LDISC		29

/* The ioctl type of ckpt_pty's own commands. */
#define CKPT_IOC_TYPE		0xC7

/*
 * Status and statistics of one stream (CKPT_STATUS, either end).
 */
struct ckpt_stream_status {
	__u32 support;		/* CKPT_SUPPORT_* */
	__u32 frozen;		/* CKPT_FROZEN_* bits of the pair */
	__u32 last_op;		/* CKPT_OP_* of the last checkpoint operation */
	__u32 index;		/* AT&T slave index, or BSD pair number */
	__u32 end;		/* 1 master stream, 2 slave stream */
	__u32 mode;		/* 0 AT&T, 1 BSD */
	__u32 to_master;	/* bytes waiting for the master's reader */
	__u32 to_slave;		/* bytes on their way to the slave's reader */
	__u64 checkpoints;	/* checkpoints taken of this stream */
	__u64 restarts;		/* restarts of this stream */
	__u64 checkpoint_bytes;	/* image bytes produced */
	__u64 restart_bytes;	/* image bytes consumed */
};

/* ckpt_stream_status.support */
#define CKPT_SUPPORT_CHECKPOINT	1
#define CKPT_SUPPORT_RESTART	2
/* ckpt_stream_status.frozen */
#define CKPT_FROZEN_MASTER	1
#define CKPT_FROZEN_SLAVE	2
/* ckpt_stream_status.last_op */
#define CKPT_OP_NONE		0
#define CKPT_OP_FREEZE		1
#define CKPT_OP_THAW		2
#define CKPT_OP_CHECKPOINT	3
#define CKPT_OP_RESTART		4

/*
 * CKPT_CHECKPOINT: with buf_len 0 only the size needed is reported in
 * image_len; a buffer too small gives ERANGE (and the size). The stream is
 * frozen for the checkpoint and thawed afterwards unless CKPT_LEAVE_FROZEN.
 */
struct ckpt_checkpoint_arg {
	__u64 buf;		/* user address of the image buffer */
	__u32 buf_len;		/* its size */
	__u32 flags;		/* CKPT_LEAVE_FROZEN */
	__u64 checkpoint_id;	/* stored in the image's status block */
	__u32 image_len;	/* out: bytes written, or needed */
	__u32 reserved;		/* zero */
};

#define CKPT_LEAVE_FROZEN	1

/* CKPT_RESTART: load this end's stream from an image. */
struct ckpt_restart_arg {
	__u64 buf;		/* user address of the image */
	__u32 buf_len;		/* its length */
	__u32 flags;		/* zero */
};

/* One expected pair of a restart session (CKPT_SESSION_BEGIN). */
struct ckpt_restart_entry {
	__u32 index;		/* the pair's original index */
	__u32 ends;		/* CKPT_END_* bits: which ends will be restored */
};

#define CKPT_END_MASTER		1
#define CKPT_END_SLAVE		2

/* CKPT_SESSION_BEGIN and CKPT_SESSION_BEGIN_SOCKETS. */
struct ckpt_session_arg {
	__u64 entries;		/* user address of count entries */
	__u32 count;		/* number of entries */
	__u32 flags;		/* zero */
};

/*
 * CKPT_SESSION_COMMIT: on ENXIO the orphans (ends or sockets that never
 * came back) are written as records of CKPT_ORPHAN_RECORD_LEN bytes:
 * __u32 index; __u16 kind (1 master, 2 slave, 3 socket); __u16 reserved;
 * then a struct ckpt_socket_record (44 bytes) for sockets.
 */
struct ckpt_commit_arg {
	__u64 orphans;		/* user address for orphan records */
	__u32 orphans_cap;	/* room for this many records */
	__u32 orphans_count;	/* out: number of orphans (all of them) */
};

#define CKPT_ORPHAN_RECORD_LEN	52

/* CKPT_OPEN_MASTER: returns a new descriptor of the session's master. */
struct ckpt_open_master_arg {
	__u32 index;		/* the pair's index */
	__u32 flags;		/* O_RDWR, O_NONBLOCK, O_CLOEXEC... */
};

/* CKPT_GLOBAL_STATUS on the control device. */
struct ckpt_global_status {
	__u32 format_version;	/* image format version written and read */
	__u32 pairs;		/* live AT&T pairs of the instance */
	__u32 max_pairs;	/* the instance's max= */
	__u32 bsd_pairs;	/* the instance's bsd= */
	__u32 session_active;	/* 1 while a restart session is open */
	__u32 reserved;		/* zero */
	__u64 checkpoints;	/* module-wide counters since load */
	__u64 restarts;
	__u64 checkpoint_bytes;
	__u64 restart_bytes;
	__u64 sessions_committed;
	__u64 sessions_rolled_back;
};

/*
 * The identity of a socket a pair serves (telnet/rlogin-style logins):
 * addresses in network order, IPv4 in the first 4 bytes; ports in host
 * order.
 */
struct ckpt_socket_record {
	__u16 family;		/* AF_INET, AF_INET6, AF_UNIX... */
	__u16 sock_type;	/* SOCK_STREAM... */
	__u16 protocol;		/* IPPROTO_TCP... */
	__u16 local_port;
	__u16 remote_port;
	__u16 reserved;		/* zero */
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

/* One expected pair of CKPT_SESSION_BEGIN_SOCKETS. */
struct ckpt_restart_socket_entry {
	__u32 index;
	__u32 ends;		/* CKPT_END_* */
	__u32 has_socket;	/* 1 when socket is expected */
	struct ckpt_socket_record socket;
};

/* On either end of a pair. */
#define CKPT_FREEZE		_IO(CKPT_IOC_TYPE, 1)
#define CKPT_THAW		_IO(CKPT_IOC_TYPE, 2)
#define CKPT_STATUS		_IOR(CKPT_IOC_TYPE, 3, struct ckpt_stream_status)
#define CKPT_CHECKPOINT		_IOWR(CKPT_IOC_TYPE, 4, struct ckpt_checkpoint_arg)
#define CKPT_RESTART		_IOW(CKPT_IOC_TYPE, 5, struct ckpt_restart_arg)
#define CKPT_SOCKET_SET		_IO(CKPT_IOC_TYPE, 6)	/* arg: socket descriptor */
#define CKPT_SOCKET_GET		_IOR(CKPT_IOC_TYPE, 7, struct ckpt_socket_record)

/* On the control device of an instance. */
#define CKPT_SESSION_BEGIN	_IOW(CKPT_IOC_TYPE, 16, struct ckpt_session_arg)
#define CKPT_SESSION_COMMIT	_IOWR(CKPT_IOC_TYPE, 17, struct ckpt_commit_arg)
#define CKPT_SESSION_ABORT	_IO(CKPT_IOC_TYPE, 18)
#define CKPT_OPEN_MASTER	_IOW(CKPT_IOC_TYPE, 19, struct ckpt_open_master_arg)
#define CKPT_GLOBAL_STATUS	_IOR(CKPT_IOC_TYPE, 20, struct ckpt_global_status)
#define CKPT_SESSION_BEGIN_SOCKETS _IOW(CKPT_IOC_TYPE, 21, struct ckpt_session_arg)
#define CKPT_SOCKET_RESTORED	_IO(CKPT_IOC_TYPE, 22)	/* arg: socket descriptor */

#endif /* _UAPI_LINUX_CKPT_PTY_H */
