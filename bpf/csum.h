/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Incremental Internet checksum updates (RFC 1624): a rewrite touches a few
 * words, so the checksum is patched with old/new words instead of being
 * recomputed over the packet. All values stay in network order: the one's
 * complement sum is byte-order independent as long as every 16-bit unit is
 * loaded the same way. */
#ifndef XLB_BPF_CSUM_H
#define XLB_BPF_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u32 csum_add16(__u32 sum, __u16 v)
{
	return sum + v;
}

/* Adding the one's complement of v subtracts v. */
static __always_inline __u32 csum_sub16(__u32 sum, __u16 v)
{
	return sum + (__u16)~v;
}

static __always_inline __u32 csum_add32(__u32 sum, __u32 v)
{
	return sum + (v >> 16) + (v & 0xffff);
}

static __always_inline __u32 csum_sub32(__u32 sum, __u32 v)
{
	return csum_add32(sum, ~v);
}

/* The accumulators here add at most ~20 16-bit units, so two folds suffice. */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Start an update from the checksum field as stored in the packet. */
static __always_inline __u32 csum_unfold(__sum16 check)
{
	return (__u16)~check;
}

static __always_inline __u32 csum_replace_addr(__u32 sum, const __be32 *from,
					       const __be32 *to, int words)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (i >= words)
			break;
		sum = csum_sub32(sum, from[i]);
		sum = csum_add32(sum, to[i]);
	}
	return sum;
}

#endif
