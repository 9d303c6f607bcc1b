/*
 * session: a charging session's durable record, the one line of text the
 * charger keeps in the kv store ("session") from the session's start to
 * its record (723) being stored, so that a power cut neither loses nor
 * doubles it (core/charger.c says when it is written).
 *
 *   v1 s=<id hex> u=<user hex> sw=<Wh> lw=<Wh> st=<ms> lt=<ms> a=<A>
 *   p=<phases> c=<charging> b=<bytes> m=<bytes> e=<ended> ew=<Wh>
 *   et=<ms> r=<reason>
 *
 * Ids are kept in hex so that any printable id survives the line's
 * spaces; "-" is an empty one.  session_decode is pure and bounded and
 * refuses anything session_encode would not write (fuzzed:
 * tests/fuzz/fuzz_session.c).
 */
#ifndef EVFW_SESSION_H
#define EVFW_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/method.h"

#define SESSION_TEXT_MAX	512

enum session_reason {
	SESSION_UNPLUGGED = 0,
	SESSION_RESTART = 1,	/* closed after the charger restarted */
};

struct session_rec {
	char		id[METHOD_TEXT_MAX + 1];
	char		user[METHOD_TEXT_MAX + 1];
	double		start_wh;	/* the meter's register at the start */
	double		last_wh;	/* ... at the last progress */
	int64_t		start_wall;	/* ms since the epoch */
	int64_t		last_wall;
	unsigned	current_a;
	unsigned	phases;
	int		charging;	/* the contactor was on */
	uint64_t	if0;		/* interface bytes at the start */
	uint64_t	mqtt0;		/* MQTT bytes at the start */
	int		ended;		/* ended; its record not yet stored */
	double		end_wh;
	int64_t		end_wall;
	enum session_reason reason;
};

/* The line into buf (cap >= SESSION_TEXT_MAX); its length or -1. */
int	 session_encode(const struct session_rec *, char *buf, size_t cap);
/* Parse len bytes (no NUL needed); 0, or -1 when not a valid record. */
int	 session_decode(const char *buf, size_t len, struct session_rec *);
/* The record's identity in the store (never 0): id and start. */
uint32_t session_key(const char *id, int64_t start_wall);

#endif
