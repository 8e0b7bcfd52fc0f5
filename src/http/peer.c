/* SPDX-License-Identifier: MIT */
/*
 * peer.c: who is on the other end of an accepted loopback TCP connection.
 * gl_http_peer_uid asks the kernel (NETLINK_SOCK_DIAG, inet_diag) for the peer's socket by the
 * connection's 4-tuple and returns the uid that owns it (idiag_uid: the user that created the
 * socket, as `ss -e` shows). TCP has no SO_PEERCRED; this is the one kernel interface that
 * names the owner of the other end, and only for a peer in the same network namespace, which a
 * loopback peer always is.
 *
 * One query per call, on a netlink socket opened and closed here: no state, nothing shared
 * between calls, safe from any thread. Callers ask once per accepted connection, not per
 * request (a keep-alive connection keeps its peer). gl_http_peer_probe checks once, at start,
 * that the kernel answers (inet_diag may be missing or refused).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "galley/http.h"
#include "internal.h"

/* The query: the peer's socket is the one whose source is our peer address and whose
 * destination is our local address. Exact lookup (no NLM_F_DUMP): one answer or an error. */
static int build_query(int fd, struct inet_diag_req_v2 *q)
{
    struct sockaddr_storage local, peer;
    socklen_t llen = sizeof(local), plen = sizeof(peer);

    if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
        return -errno;
    if (local.ss_family != peer.ss_family ||
        (local.ss_family != AF_INET && local.ss_family != AF_INET6))
        return -EAFNOSUPPORT;
    memset(q, 0, sizeof(*q));
    q->sdiag_family = (uint8_t)local.ss_family;
    q->sdiag_protocol = IPPROTO_TCP;
    q->idiag_states = ~0u;
    q->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    q->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (local.ss_family == AF_INET) {
        const struct sockaddr_in *l = (void *)&local, *p = (void *)&peer;
        q->id.idiag_sport = p->sin_port;
        q->id.idiag_dport = l->sin_port;
        memcpy(q->id.idiag_src, &p->sin_addr, 4);
        memcpy(q->id.idiag_dst, &l->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *l = (void *)&local, *p = (void *)&peer;
        q->id.idiag_sport = p->sin6_port;
        q->id.idiag_dport = l->sin6_port;
        memcpy(q->id.idiag_src, &p->sin6_addr, 16);
        memcpy(q->id.idiag_dst, &l->sin6_addr, 16);
    }
    return 0;
}

/* Read the one answer: the socket's uid, or the kernel's error (ENOENT: no such socket here). */
static int read_answer(int nl, uid_t *uid)
{
    union {
        char buf[8192];
        struct nlmsghdr align;
    } u;
    struct pollfd p = {nl, POLLIN, 0};

    /* The kernel answers before sendmsg returns; the poll only bounds a surprise. */
    if (poll(&p, 1, 1000) != 1)
        return -ETIMEDOUT;
    ssize_t n = recv(nl, u.buf, sizeof(u.buf), MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)u.buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ? e->error : -EPROTO;
        }
        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            *uid = (uid_t)m->idiag_uid;
            return 0;
        }
    }
    return -EPROTO;
}

int gl_http_peer_uid(int fd, uid_t *uid)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int nl = -1, rc;

    if ((rc = build_query(fd, &msg.req)) < 0)
        return rc;
    msg.nlh = (struct nlmsghdr){
        .nlmsg_len = sizeof(msg),
        .nlmsg_type = SOCK_DIAG_BY_FAMILY,
        .nlmsg_flags = NLM_F_REQUEST,
        .nlmsg_seq = 1,
    };
    if ((nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0)
        return -errno;
    if (sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        rc = -errno;
    else
        rc = read_answer(nl, uid);
    close(nl);
    return rc;
}

/* One loopback connection to ourselves, looked up: whether gl_http_peer_uid works here. */
int gl_http_peer_probe(gl_err_t *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int lfd = -1, cfd = -1, afd = -1, rc;
    uid_t uid = (uid_t)-1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0 ||
        (cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
        rc = gl_err_set(err, errno, "a loopback connection to probe with");
        goto out;
    }
    if ((rc = gl_http_peer_uid(afd, &uid)) < 0)
        rc = gl_err_set(err, -rc, "sock_diag lookup");
    else if (uid != geteuid())
        rc = gl_err_set(err, EPROTO, "sock_diag names uid %u for a socket of uid %u",
                        (unsigned)uid, (unsigned)geteuid());
out:
    if (afd >= 0)
        close(afd);
    if (cfd >= 0)
        close(cfd);
    if (lfd >= 0)
        close(lfd);
    return rc;
}

/* The text address of req's peer (a Function URL event's sourceIp). */
int gl_http_req_peer_ip(const gl_http_req_t *req, char *out, size_t len)
{
    struct sockaddr_storage peer;
    int plen = sizeof(peer);
    if (!req->conn || gl_http_req_gone(req) ||
        uv_tcp_getpeername(&req->conn->tcp, (struct sockaddr *)&peer, &plen) < 0)
        return -ENOTCONN;
    if (peer.ss_family == AF_INET6)
        return uv_ip6_name((struct sockaddr_in6 *)&peer, out, len);
    return uv_ip4_name((struct sockaddr_in *)&peer, out, len);
}
