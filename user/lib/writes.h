/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * config.c's map primitives, for adopt.c's repairs: slot writes, the VIP
 * address counts' key, and a table prepared then switched atomically.
 */
#ifndef XLB_WRITES_H
#define XLB_WRITES_H

#include "model.h"

/* A built table: backend ids, one per entry. */
struct table {
	uint32_t *ids;
	uint32_t size; /* 0: no usable backend, the VIP drops new flows */
};

/* A table change prepared before the first visible map write. */
struct table_plan {
	bool change; /* the VIP moves to a new table (of size 0 if fd < 0) */
	int fd; /* the new inner map, filled and frozen */
	uint32_t size;
};

int slot_write(const struct xlb *x, uint32_t id, const struct xlb_backend *val);
/* A freed slot keeps its generation (the next user gets gen + 1). */
void slot_freed(const struct xlb_backend *old, struct xlb_backend *out);
struct xlb_vip_key vip_addr_key(const struct xlb_vip_key *vip);
/* Entries 0..n-1 of an array map. */
int array_read(int fd, uint32_t n, void *vals, size_t value_size);

int table_build(const struct xlb_vip_spec *spec, const struct xlb_backend_info *be, size_t n,
		struct table *t);
/* The new inner map, filled and frozen, ready for table_publish. */
int table_prepare(const struct xlb_vip_entry *v, const struct table *t, struct table_plan *p);
void table_plan_release(struct table_plan *p);
/* The one update of the VIP's value that moves packets to the new table. */
int table_publish(const struct xlb *x, struct xlb_vip_entry *v, const struct xlb_vip_spec *spec,
		  const struct table_plan *p);

#endif /* XLB_WRITES_H */
