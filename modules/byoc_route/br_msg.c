/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_msg.c -- SIP message and xavp helpers.
 */
#include <string.h>
#include <strings.h>

#include "core/data_lump.h"
#include "core/dprint.h"
#include "core/mem/pkg.h"
#include "core/trim.h"
#include "core/ip_addr.h"
#include "core/parser/parse_hname2.h"
#include "core/xavp.h"

#include "br_mod.h"
#include "br_msg.h"

static str _xname = str_init("byoc");

void br_msg_src_ip(sip_msg_t *msg, uint8_t out[BR_IP_LEN])
{
	memset(out, 0, BR_IP_LEN);
	if(msg->rcv.src_ip.af == AF_INET) {
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, msg->rcv.src_ip.u.addr, 4);
	} else {
		memcpy(out, msg->rcv.src_ip.u.addr, 16);
	}
}

static int is_worker(const uint8_t ip[BR_IP_LEN])
{
	int i;

	for(i = 0; i < br_p.nworker_nets; i++)
		if(br_net_contains(&br_p.worker_nets[i], ip))
			return 1;
	return 0;
}

int br_msg_from_worker(sip_msg_t *msg)
{
	uint8_t ip[BR_IP_LEN];

	br_msg_src_ip(msg, ip);
	return is_worker(ip);
}

int br_ip_is_worker(const str *ip)
{
	uint8_t a[BR_IP_LEN];

	if(!ip->s || br_ip_parse(a, ip->s, ip->len) < 0)
		return 0;
	return is_worker(a);
}

int br_msg_hdr(sip_msg_t *msg, const char *name, str *body)
{
	hdr_field_t *hf;
	size_t n = strlen(name);

	if(parse_headers(msg, HDR_EOH_F, 0) < 0)
		return -1;
	for(hf = msg->headers; hf; hf = hf->next)
		if(hf->name.len == (int)n && strncasecmp(hf->name.s, name, n) == 0) {
			*body = hf->body;
			trim(body);
			return 0;
		}
	return -1;
}

void br_msg_strip_byoc(sip_msg_t *msg)
{
	hdr_field_t *hf;

	if(parse_headers(msg, HDR_EOH_F, 0) < 0)
		return;
	for(hf = msg->headers; hf; hf = hf->next)
		if(hf->name.len > 7 && strncasecmp(hf->name.s, "X-Byoc-", 7) == 0)
			if(!del_lump(msg, hf->name.s - msg->buf, hf->len, 0))
				LM_ERR("cannot remove header %.*s\n", hf->name.len,
						hf->name.s);
}

int br_msg_add_hdr_block(sip_msg_t *msg, const char *block, size_t len)
{
	struct lump *anchor;
	char *h;

	if(parse_headers(msg, HDR_EOH_F, 0) < 0 || !msg->last_header)
		return -1;
	h = pkg_malloc(len + 1);
	if(!h) {
		PKG_MEM_ERROR;
		return -1;
	}
	memcpy(h, block, len);
	h[len] = 0;
	anchor = anchor_lump(msg,
			msg->last_header->name.s + msg->last_header->len - msg->buf, 0,
			0);
	if(!anchor || !insert_new_lump_after(anchor, h, len, 0)) {
		pkg_free(h);
		return -1;
	}
	return 0;
}

int br_xavp_set(const char *field, const char *value)
{
	str f, v;
	f.s = (char *)field;
	f.len = strlen(field);
	v.s = (char *)value;
	v.len = strlen(value);
	return xavp_set_child_sval(&_xname, &f, &v) < 0 ? -1 : 0;
}

int br_xavp_set_int(const char *field, int value)
{
	str f;
	f.s = (char *)field;
	f.len = strlen(field);
	return xavp_set_child_ival(&_xname, &f, value) < 0 ? -1 : 0;
}

int br_xavp_get(const char *field, str *out)
{
	sr_xavp_t *x;
	str f;

	f.s = (char *)field;
	f.len = strlen(field);
	x = xavp_get_child_with_sval(&_xname, &f);
	if(!x)
		return -1;
	*out = x->val.v.s;
	return 0;
}

int br_xavp_get_int(const char *field, int *out)
{
	sr_xavp_t *x;
	str f;

	f.s = (char *)field;
	f.len = strlen(field);
	x = xavp_get_child_with_ival(&_xname, &f);
	if(!x)
		return -1;
	*out = (int)x->val.v.i;
	return 0;
}

void br_xavp_reset(void)
{
	xavp_rm_by_name(&_xname, 1, NULL);
}

int br_str_copy(char *dst, size_t len, const str *s)
{
	if(!s->s || s->len < 0 || (size_t)s->len >= len)
		return -1;
	memcpy(dst, s->s, s->len);
	dst[s->len] = 0;
	return 0;
}
