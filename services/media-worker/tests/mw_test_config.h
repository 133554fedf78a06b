/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_test_config.h -- loading the worker's configuration in unit tests:
 * the variables a test reads are cleared first, options come as a
 * NULL-terminated list of strings.
 */
#ifndef MW_TEST_CONFIG_H
#define MW_TEST_CONFIG_H

#include <stdarg.h>
#include <stdlib.h>

#include "mw_config.h"

static inline void t_clear_env(const char *const *envs)
{
	int i;

	for(i = 0; envs[i]; i++)
		unsetenv(envs[i]);
}

/* mw_config_load with argv = byoc-media-worker and the options given */
static inline int t_load(struct mw_config *c, char *err, size_t errlen, ...)
{
	char *argv[16] = {"byoc-media-worker"};
	int argc = 1;
	va_list ap;
	char *a;

	va_start(ap, errlen);
	while((a = va_arg(ap, char *)) != NULL && argc < 15)
		argv[argc++] = a;
	va_end(ap);
	return mw_config_load(c, argc, argv, err, errlen);
}

#endif
