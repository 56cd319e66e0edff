/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The control socket's wire protocol, shared by xlbd and xlbctl.
 *
 * One request per connection, text, so `socat` can speak it too:
 *
 *   request  = line [ body ]  then the client shuts down its sending side
 *   line     = [ "-j" " " ] STATEMENT "\n"
 *   body     = the batch that follows "apply NAME" (the client reads the
 *              file; NAME only labels error messages: "NAME:7: ...")
 *
 *   reply    = status "\n" *( payload-line "\n" ) "." "\n"   then close
 *   status   = "ok" | "error: " MESSAGE
 *
 * The request is text: a NUL byte in the line is refused ("NUL byte in the
 * statement"), in the body as a bad line of the batch.
 *
 * The request ends at EOF rather than at the first newline so that a batch
 * needs no length prefix or escaping. The reply ends with a line holding a
 * single "." so a client can tell a whole reply from a daemon that died
 * while writing one; no payload line is ever just ".". With -j the payload
 * is one JSON document on one line (printing statements only).
 */
#ifndef XLBD_PROTO_H
#define XLBD_PROTO_H

#define XLB_SOCKET_DEFAULT "/run/xlb/xlbd.sock"
/* A batch of 16384 backends is about 1 MiB; a 10 MB line must still get
 * its "line too long" answer rather than a cut connection. */
#define XLB_REQUEST_MAX (32u << 20)
#define XLB_REPLY_END ".\n"
#define XLB_REPLY_OK "ok"
#define XLB_REPLY_ERROR "error: "
#define XLB_OPT_JSON "-j"

#endif /* XLBD_PROTO_H */
