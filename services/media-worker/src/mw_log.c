/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_log.c -- levelled logging with a thread-local call context and
 * per-thread rate limiting (see mw_log.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mw_log.h"

#define MW_LOG_LINE_MAX 1024
#define MW_LOG_CTX_MAX 80
#define MW_LOG_LIMIT_SLOTS 16 /* distinct limited messages per thread */
#define MW_LOG_LIMIT_SEC 15

int mw_log_threshold = MW_LOG_INFO;

static const char *const level_names[MW_LOG__MAX] = {
		"err", "warn", "notice", "info", "debug"};

struct limit_slot
{
	const char *fmt; /* identity of the message: its format string */
	time_t last;	 /* when it was last printed */
	unsigned suppressed;
};

static _Thread_local char log_ctx[MW_LOG_CTX_MAX + 1];
static _Thread_local struct limit_slot limits[MW_LOG_LIMIT_SLOTS];

void mw_log_set_level(int level)
{
	if(level >= 0 && level < MW_LOG__MAX)
		mw_log_threshold = level;
}

int mw_log_level_parse(const char *s)
{
	int i;

	if(!s || !*s)
		return -EINVAL;
	for(i = 0; i < MW_LOG__MAX; i++)
		if(strcasecmp(s, level_names[i]) == 0)
			return i;
	if(strcasecmp(s, "error") == 0)
		return MW_LOG_ERR;
	if(strcasecmp(s, "warning") == 0)
		return MW_LOG_WARN;
	if(s[0] >= '0' && s[0] < '0' + MW_LOG__MAX && s[1] == 0)
		return s[0] - '0';
	return -EINVAL;
}

const char *mw_log_level_name(int level)
{
	return level >= 0 && level < MW_LOG__MAX ? level_names[level] : "?";
}

void mw_log_ctx(const char *ctx)
{
	if(!ctx) {
		log_ctx[0] = 0;
		return;
	}
	snprintf(log_ctx, sizeof(log_ctx), "%s", ctx);
}

static void vwrite_line(
		int level, unsigned suppressed, const char *fmt, va_list ap)
{
	char line[MW_LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	r = snprintf(line, sizeof(line),
			"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-6s %s%s%s",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, mw_log_level_name(level),
			log_ctx[0] ? "[" : "", log_ctx, log_ctx[0] ? "] " : "");
	n = r > 0 ? (size_t)r : 0;
	if(n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += r > 0 ? (size_t)r : 0;
	}
	if(suppressed && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				" (%u similar suppressed)", suppressed);
	if(n >= sizeof(line) - 1)
		n = sizeof(line) - 2; /* truncated: keep the newline */
	/* one line, never a control character from a peer's data */
	for(size_t i = 0; i < n; i++)
		if((unsigned char)line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
	line[n++] = '\n';
	/* a single write keeps lines of concurrent threads whole */
	if(write(STDERR_FILENO, line, n) < 0) {
		/* nowhere to report it */
	}
}

void mw_log_write(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwrite_line(level, 0, fmt, ap);
	va_end(ap);
}

void mw_log_limit(int level, const char *fmt, ...)
{
	struct limit_slot *s = NULL, *oldest = &limits[0];
	time_t now = time(NULL);
	unsigned suppressed;
	va_list ap;
	int i;

	for(i = 0; i < MW_LOG_LIMIT_SLOTS; i++) {
		if(limits[i].fmt == fmt) {
			s = &limits[i];
			break;
		}
		if(limits[i].last < oldest->last)
			oldest = &limits[i];
	}
	if(s && now - s->last < MW_LOG_LIMIT_SEC) {
		s->suppressed++;
		return;
	}
	if(!s) {
		s = oldest;
		s->fmt = fmt;
		s->suppressed = 0;
	}
	suppressed = s->suppressed;
	s->suppressed = 0;
	s->last = now;
	va_start(ap, fmt);
	vwrite_line(level, suppressed, fmt, ap);
	va_end(ap);
}
