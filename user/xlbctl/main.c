// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xlbctl: the command line of xlb. A thin client: it joins its arguments
 * into one statement, sends it to xlbd over the control socket (protocol in
 * user/xlbd/proto.h) and prints the reply. xlbd parses, checks, applies and
 * renders; xlbctl only reads the file of `apply`, since the file is the
 * caller's and not necessarily visible to the daemon.
 *
 * Exit status: 0 ok, 1 the statement failed (message on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../xlbd/proto.h"
#include "keywords.h"

#define REPLY_TIMEOUT_S 120

struct buf {
	char *p;
	size_t len, cap;
};

static void __attribute__((format(printf, 1, 2))) complain(const char *fmt, ...)
{
	va_list ap;

	fputs("xlbctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "a|b|c": a keyword table's words as usage shows them. */
static const char *words(const struct xlb_keywords *k, char *buf, size_t len)
{
	return xlb_keyword_list(k, "|", buf, len);
}

static void usage(FILE *f)
{
	char sched[64], mode[64], encap[64], check[64];

	fprintf(f,
		"usage: xlbctl [-j] [-s SOCKET] STATEMENT...\n"
		"\n"
		"  -j, --json          print JSON\n"
		"  -s, --socket PATH   xlbd's control socket (default $XLB_SOCKET or "
		XLB_SOCKET_DEFAULT ")\n"
		"      --keywords      print every keyword a statement takes, with its meaning\n"
		"      --version       print xlbctl's version and exit\n"
		"\n"
		"statements:\n"
		"  vip add     PROTO/VIP:PORT [sched %s] [mode %s]\n"
		"              [ring PRIME] [encap %s] [gue-port N]\n"
		"  vip set     PROTO/VIP:PORT [sched ...] [ring PRIME] [announce-min N]\n"
		"  vip del     PROTO/VIP:PORT\n"
		"  vip list\n"
		"  backend add PROTO/VIP:PORT ADDR[:PORT] [weight N]\n"
		"  backend set PROTO/VIP:PORT ADDR[:PORT] weight N | drain | enable\n"
		"  backend del PROTO/VIP:PORT ADDR[:PORT]\n"
		"  check set   PROTO/VIP:PORT %s [port N] [path P] [host H]\n"
		"              [expect CODE] [payload WORD] [interval DUR] [timeout DUR]\n"
		"              [rise N] [fall N]\n"
		"  node drain | node enable  (withdraw / announce this node's VIP routes)\n"
		"  show | stats | save\n"
		"  apply FILE  (all or nothing; - reads stdin)\n"
		"  explain     PROTO/VIP:PORT CLIENT[:PORT]  (which backend, and why)\n",
		words(&xlb_sched_words, sched, sizeof(sched)),
		words(&xlb_mode_words, mode, sizeof(mode)),
		words(&xlb_encap_words, encap, sizeof(encap)),
		words(&xlb_check_words, check, sizeof(check)));
}

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= more)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len < more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len))
		return -ENOMEM;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static int buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* ---- the request ------------------------------------------------------- */

/* The batch of `apply FILE`; larger than the daemon takes is refused here,
 * before sending megabytes it would only drop. */
static int read_batch(const char *path, struct buf *b)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	int rc = 0;
	size_t n;

	if (!f) {
		complain("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	do {
		if (buf_reserve(b, 65536)) {
			complain("out of memory reading %s", path);
			rc = -1;
			break;
		}
		n = fread(b->p + b->len, 1, 65536, f);
		b->len += n;
		if (b->len > XLB_REQUEST_MAX) {
			complain("%s is too large (xlbd takes at most %u MiB in one apply)", path,
				 XLB_REQUEST_MAX >> 20);
			rc = -1;
			break;
		}
	} while (n > 0);
	if (!rc && ferror(f)) {
		complain("cannot read %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

static int build_request(int argc, char **argv, bool json, struct buf *req)
{
	int rc = json ? buf_str(req, XLB_OPT_JSON " ") : 0;

	for (int i = 0; !rc && i < argc; i++) {
		rc = buf_str(req, argv[i]);
		if (!rc)
			rc = buf_str(req, i + 1 < argc ? " " : "\n");
	}
	if (rc) {
		complain("out of memory");
		return -1;
	}
	/* Only `apply FILE` has a body; a malformed apply is left for the
	 * daemon's parser to explain. */
	if (argc == 2 && !strcmp(argv[0], "apply"))
		return read_batch(argv[1], req);
	return 0;
}

/* ---- the socket ------------------------------------------------------------ */

/* Whoever can write the socket's directory could listen there in xlbd's
 * place and collect root's statements: talk only to a server running as
 * root (as xlbd does) or as ourselves. Checked before a byte is sent. */
static bool server_trusted(int fd, const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		complain("cannot check who serves %s: %s", path, strerror(errno));
		return false;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	complain("refusing to talk to %s: it is served by uid %u (pid %d), not by root or by you; "
		 "xlbd runs as root, so someone else put this socket there (check who can "
		 "write its directory)", path, (unsigned int)cred.uid, (int)cred.pid);
	return false;
}

static int connect_daemon(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		complain("socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		complain("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		if (!server_trusted(fd, path)) {
			close(fd);
			return -1;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		return fd;
	}
	if (errno == ENOENT)
		complain("xlbd is not running (no socket at %s)", path);
	else if (errno == ECONNREFUSED)
		complain("xlbd is not running (%s exists but is not accepting connections)", path);
	else if (errno == EACCES || errno == EPERM)
		complain("permission denied on %s (xlbctl must run as root)", path);
	else
		complain("cannot connect to xlbd at %s: %s", path, strerror(errno));
	close(fd);
	return -1;
}

/* Everything, then EOF: the request ends where our sending side does. A
 * daemon that answers early and closes makes the rest unsendable; its
 * answer is still read. */
static void send_request(int fd, const struct buf *req)
{
	size_t off = 0;

	while (off < req->len) {
		ssize_t n = send(fd, req->p + off, req->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	shutdown(fd, SHUT_WR);
}

static int read_reply(int fd, struct buf *rep)
{
	for (;;) {
		ssize_t n;

		if (buf_reserve(rep, 65536)) {
			complain("out of memory reading xlbd's reply");
			return -1;
		}
		n = recv(fd, rep->p + rep->len, 65536, 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			complain("xlbd did not answer within %ds", REPLY_TIMEOUT_S);
			return -1;
		}
		if (n < 0) {
			complain("reading xlbd's reply: %s", strerror(errno));
			return -1;
		}
		rep->len += n;
	}
}

/* ---- the reply ------------------------------------------------------------- */

static bool reply_complete(const struct buf *rep)
{
	size_t end = strlen(XLB_REPLY_END);

	return rep->len > end && rep->p[rep->len - end - 1] == '\n' &&
	       !memcmp(rep->p + rep->len - end, XLB_REPLY_END, end);
}

static int print_reply(struct buf *rep)
{
	size_t status_len, payload_len;
	char *payload;

	if (!rep->len) {
		complain("xlbd closed the connection without answering (see its log)");
		return 1;
	}
	if (!reply_complete(rep)) {
		complain("xlbd's reply was cut short (see its log)");
		return 1;
	}
	payload = memchr(rep->p, '\n', rep->len) + 1;
	status_len = payload - rep->p - 1;
	payload_len = rep->len - (payload - rep->p) - strlen(XLB_REPLY_END);
	if (status_len == strlen(XLB_REPLY_OK) && !memcmp(rep->p, XLB_REPLY_OK, status_len)) {
		fwrite(payload, 1, payload_len, stdout);
		return fflush(stdout) ? 1 : 0;
	}
	if (status_len >= strlen(XLB_REPLY_ERROR) &&
	    !memcmp(rep->p, XLB_REPLY_ERROR, strlen(XLB_REPLY_ERROR))) {
		complain("%.*s", (int)(status_len - strlen(XLB_REPLY_ERROR)),
		     rep->p + strlen(XLB_REPLY_ERROR));
		return 1;
	}
	complain("unexpected reply from xlbd: %.*s", (int)status_len, rep->p);
	return 1;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "keywords", no_argument, NULL, 'K' },
		{},
	};
	const char *sock = getenv("XLB_SOCKET");
	struct buf req = { 0 }, rep = { 0 };
	bool json = false;
	int c, fd, rc;

	if (!sock || !*sock)
		sock = XLB_SOCKET_DEFAULT;
	/* '+': stop at the statement, whose words may look like options
	 * ("weight -1" must reach the parser, which explains the range). */
	while ((c = getopt_long(argc, argv, "+js:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("xlbctl %s\n", XLB_VERSION);
			return 0;
		case 'K':
			xlb_keywords_print(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	rc = build_request(argc - optind, argv + optind, json, &req) ? 1 : 0;
	fd = rc ? -1 : connect_daemon(sock);
	if (fd >= 0) {
		send_request(fd, &req);
		rc = read_reply(fd, &rep) ? 1 : print_reply(&rep);
		close(fd);
	} else {
		rc = 1;
	}
	free(req.p);
	free(rep.p);
	return rc;
}
