/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_msg.h -- small helpers over Kamailio's SIP message and the "byoc"
 * xavp, the structure through which the module hands its decisions to
 * the cfg script ($xavp(byoc=>trunk) ...). tm keeps xavps with the
 * transaction, so the values are there again in failure_route and
 * onreply_route.
 */
#ifndef BR_MSG_H
#define BR_MSG_H

#include <stdint.h>

#include "core/parser/msg_parser.h"
#include "lib/br_cidr.h"

/* Source address of the message as 16 mapped bytes. */
void br_msg_src_ip(sip_msg_t *msg, uint8_t out[BR_IP_LEN]);
/* 1 if 'ip' (text) is inside worker_networks. */
int br_ip_is_worker(const str *ip);
/* 1 if the message comes from one of worker_networks. */
int br_msg_from_worker(sip_msg_t *msg);
/* First header with this name (case-insensitive); 0 or -1. */
int br_msg_hdr(sip_msg_t *msg, const char *name, str *body);
/* Removes every header whose name starts with X-Byoc- (spoofing guard:
 * only the edge sets them). */
void br_msg_strip_byoc(sip_msg_t *msg);
/* Appends a block of complete header lines ("Name: v\r\n"...) as one
 * lump (one allocation, one anchor) after the last header. */
int br_msg_add_hdr_block(sip_msg_t *msg, const char *block, size_t len);

int br_xavp_set(const char *field, const char *value);
int br_xavp_set_int(const char *field, int value);
/* Value of $xavp(byoc=>field) (points into the xavp); 0 or -1. */
int br_xavp_get(const char *field, str *out);
int br_xavp_get_int(const char *field, int *out);
void br_xavp_reset(void);

/* Copies a str into a NUL-terminated buffer; -1 if it does not fit. */
int br_str_copy(char *dst, size_t len, const str *s);

#endif
