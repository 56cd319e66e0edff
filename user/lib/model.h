/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * model.c's calls for the files that write the maps (config.c) and read
 * them back (adoption): the in-memory VIPs, kept sorted by id.
 */
#ifndef XLB_MODEL_H
#define XLB_MODEL_H

#include <sys/types.h>

#include "xlb_internal.h"

/* Canonical forms: lookups compare every byte, so unused address bytes are
 * zeroed and a backend's port 0 becomes the VIP's. */
void vip_key_canon(const struct xlb_vip_key *in, struct xlb_vip_key *out);
void ep_canon(const struct xlb_endpoint *in, const struct xlb_vip_key *vip,
	      struct xlb_endpoint *out);
bool family_valid(__u8 family);
const char *vip_text(const struct xlb_vip_key *key, char buf[XLB_TEXT_LEN]);
const char *ep_text(const struct xlb_endpoint *ep, char buf[XLB_TEXT_LEN]);

/* By canonical key (the published entry before a hidden one), by id. */
struct xlb_vip_entry *vip_lookup(const struct xlb *x, const struct xlb_vip_key *canon);
struct xlb_vip_entry *vip_by_id(const struct xlb *x, uint32_t id);
/* vip_lookup for any key, with an error naming the VIP when it is missing. */
int vip_find(struct xlb *x, const struct xlb_vip_key *key, struct xlb_vip_entry **out);
/* Room for one more VIP, so that vip_insert after map writes cannot fail.
 * Both move entries: pointers into x->vips do not survive them. */
int vips_reserve(struct xlb *x);
void vip_insert(struct xlb *x, const struct xlb_vip_entry *e);
void vip_remove(struct xlb *x, struct xlb_vip_entry *v);
/* v takes be (sorted by slot id) and frees its old list. */
void vip_set_backends(struct xlb_vip_entry *v, struct xlb_backend_info *be, size_t n);
ssize_t be_index(const struct xlb_vip_entry *v, const struct xlb_endpoint *canon);
int be_locate(struct xlb *x, const struct xlb_vip_key *vip, const struct xlb_endpoint *ep,
	      struct xlb_vip_entry **v, size_t *idx);

#endif /* XLB_MODEL_H */
