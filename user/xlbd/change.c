// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Committing a validated configuration.
 *
 * The state file is written before the datapath changes (write-ahead): if
 * xlbd dies between the two, the restart converges the datapath to the
 * file, so the change the client asked for is completed rather than
 * forgotten. If the datapath refuses the change, the previous file is put
 * back, and so is the datapath (xlb_cfg_converge rolls itself back).
 */
#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "persist.h"
#include "xlbd.h"

static int write_state(struct xlbd *d, const struct xlb_cfg *cfg, char *err, size_t errlen)
{
	if (!d->state_path)
		return 0;
	return persist_write(d->state_path, cfg, err, errlen);
}

int xlbd_commit(struct xlbd *d, struct xlb_cfg *next, char *err, size_t errlen)
{
	char why[512];
	struct xlb_cfg tmp;
	int rc;

	rc = write_state(d, next, err, errlen);
	if (rc)
		return rc;
	rc = xlb_cfg_converge(d->x, next);
	if (rc) {
		snprintf(err, errlen, "%s", xlb_errmsg());
		if (write_state(d, &d->cfg, why, sizeof(why)))
			log_error("%s; the state file may now hold the refused change", why);
		return rc;
	}
	tmp = d->cfg;
	d->cfg = *next;
	*next = tmp;
	d->generation++;
	if (d->prober)
		prober_sync(d->prober, &d->cfg);
	neigh_sync(&d->neigh, d->x);
	announce_sync(&d->announce, &d->cfg, d->x, false);
	return 0;
}
