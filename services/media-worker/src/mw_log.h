/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_log.h -- levelled logging for the media worker: one line per call to
 * stderr (written with a single write(2), so lines of different threads
 * never interleave), a thread-local context (the call being handled)
 * prefixed to every line, and rate-limited variants for per-packet paths.
 */
#ifndef MW_LOG_H
#define MW_LOG_H

#include <stdarg.h>

enum mw_log_level
{
	MW_LOG_ERR = 0,
	MW_LOG_WARN,
	MW_LOG_NOTICE,
	MW_LOG_INFO,
	MW_LOG_DEBUG,
	MW_LOG__MAX
};

/* Lines above this level are dropped (read without locks; set once at
 * start, changed only by mw_log_set_level). */
extern int mw_log_threshold;

void mw_log_set_level(int level);
/* "err", "warn", "notice", "info", "debug" (or 0..4); -EINVAL otherwise. */
int mw_log_level_parse(const char *s);
const char *mw_log_level_name(int level);

/* Thread-local context printed as "[ctx] " before each message of this
 * thread (e.g. the Call-ID), until cleared with NULL. The string is
 * copied (truncated to 80 bytes). */
void mw_log_ctx(const char *ctx);

void mw_log_write(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
/* Like mw_log_write, but a message with the same format string logged by
 * the same thread within the last 15 s is counted instead of printed;
 * the count is reported with the next printed occurrence. For paths that
 * a peer can trigger at packet rate. */
void mw_log_limit(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

#define mw_log(level, ...)                      \
	do {                                        \
		if((level) <= mw_log_threshold)         \
			mw_log_write((level), __VA_ARGS__); \
	} while(0)

#define MW_ERR(...) mw_log(MW_LOG_ERR, __VA_ARGS__)
#define MW_WARN(...) mw_log(MW_LOG_WARN, __VA_ARGS__)
#define MW_NOTICE(...) mw_log(MW_LOG_NOTICE, __VA_ARGS__)
#define MW_INFO(...) mw_log(MW_LOG_INFO, __VA_ARGS__)
#define MW_DBG(...) mw_log(MW_LOG_DEBUG, __VA_ARGS__)

#define MW_LOG_LIMIT(level, ...)                \
	do {                                        \
		if((level) <= mw_log_threshold)         \
			mw_log_limit((level), __VA_ARGS__); \
	} while(0)

#endif
