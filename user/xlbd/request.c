// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * One control request: options, then one statement of the grammar; a
 * printing statement renders, a change is simulated on a copy of the
 * running configuration and committed only if it passed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "xlbd.h"

/* Leading words that start with '-' are request options (only -j now);
 * no statement starts with '-', so the two cannot be confused. */
static const char *options(const char *line, bool *json, char *err, size_t errlen)
{
	for (;;) {
		size_t len;

		line += strspn(line, " \t");
		if (*line != '-')
			return line;
		len = strcspn(line, " \t");
		if (len == strlen(XLB_OPT_JSON) && !strncmp(line, XLB_OPT_JSON, len)) {
			*json = true;
			line += len;
			continue;
		}
		snprintf(err, errlen, "unknown option '%.*s' (expected %s)", (int)len, line,
			 XLB_OPT_JSON);
		return NULL;
	}
}

static void render(struct xlbd *d, enum xlb_verb verb, bool json, FILE *out)
{
	struct xp p;

	xp_init(&p, out, json);
	switch (verb) {
	case XLB_V_SHOW:
		xlbd_show(d, &p);
		break;
	case XLB_V_STATS:
		xlbd_stats(d, &p);
		break;
	case XLB_V_VIP_LIST:
		xlbd_vip_list(d, &p);
		break;
	default:
		xlbd_save(d, &p);
		break;
	}
	xp_end(&p);
}

/* Simulate on a copy, commit the copy. */
static int change(struct xlbd *d, const struct xlb_stmt *st, const char *batch,
		  size_t batch_len, char *err, size_t errlen)
{
	char name[4200], text[XLB_STMT_MAX_LEN + 1];
	unsigned int n = 0;
	struct xlb_cfg next;
	int rc;

	xlb_cfg_init(&next);
	rc = xlb_cfg_copy(&next, &d->cfg);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (st->verb == XLB_V_APPLY) {
		snprintf(name, sizeof(name), "%s", strcmp(st->path, "-") ? st->path : "stdin");
		rc = xlb_cfg_exec_text(&next, batch, batch_len, name, &n);
	} else {
		rc = xlb_cfg_exec(&next, st);
	}
	if (rc)
		snprintf(err, errlen, "%s", xlb_errmsg());
	else
		rc = xlbd_commit(d, &next, err, errlen);
	if (rc)
		goto out;
	if (st->verb == XLB_V_APPLY) {
		log_info("applied %s (%u statement%s)", name, n, n == 1 ? "" : "s");
	} else {
		xlb_stmt_format(st, text, sizeof(text));
		log_info("applied: %s", text);
	}
out:
	xlb_cfg_free(&next);
	return rc ? -1 : 0;
}

int xlbd_request(void *arg, const char *line, const char *body, size_t body_len, FILE *out,
		 char *err, size_t errlen)
{
	struct xlbd *d = arg;
	struct xlb_stmt st;
	bool json = false;
	const char *stmt = options(line, &json, err, errlen);
	int rc;

	if (!stmt)
		return -1;
	log_debug("request: %.200s%s", line, body_len ? " (with a batch)" : "");
	rc = xlb_stmt_parse(stmt, &st);
	if (rc < 0) {
		snprintf(err, errlen, "%s", xlb_errmsg());
		return -1;
	}
	if (rc == 0) {
		snprintf(err, errlen, "empty request (expected a statement, e.g. show)");
		return -1;
	}
	switch (st.verb) {
	case XLB_V_SHOW:
	case XLB_V_STATS:
	case XLB_V_VIP_LIST:
	case XLB_V_SAVE:
		render(d, st.verb, json, out);
		return 0;
	case XLB_V_EXPLAIN:
		return xlbd_explain(d, &st, json, out, err, errlen);
	default:
		return change(d, &st, body, body_len, err, errlen);
	}
}
