/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Passing a file descriptor to another process over a unix socket
 * (SCM_RIGHTS), as a VMM hands a guest_memfd to its successor.
 */
#ifndef _SCM_RIGHTS_H
#define _SCM_RIGHTS_H

#include <string.h>
#include <sys/socket.h>

#include "test_util.h"

static inline void send_fd(int sock, int fd)
{
	char cmsg_buf[CMSG_SPACE(sizeof(int))] = {};
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cmsg_buf, .msg_controllen = sizeof(cmsg_buf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	TEST_ASSERT(sendmsg(sock, &msg, 0) == 1, "sendmsg(SCM_RIGHTS)");
}

static inline int recv_fd(int sock)
{
	char cmsg_buf[CMSG_SPACE(sizeof(int))] = {};
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cmsg_buf, .msg_controllen = sizeof(cmsg_buf),
	};
	struct cmsghdr *cmsg;
	int fd;

	TEST_ASSERT(recvmsg(sock, &msg, 0) == 1, "recvmsg(SCM_RIGHTS)");
	cmsg = CMSG_FIRSTHDR(&msg);
	TEST_ASSERT(cmsg && cmsg->cmsg_type == SCM_RIGHTS, "no fd received");
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

#endif /* _SCM_RIGHTS_H */
