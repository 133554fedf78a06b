/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * br_rpc.h -- registration of the byoc.* RPC commands (docs/rpc.md).
 */
#ifndef BR_RPC_H
#define BR_RPC_H

int br_rpc_register(void);

#endif
