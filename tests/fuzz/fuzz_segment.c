/*
 * libFuzzer target: the fleet log's line reader.  The input is a segment
 * as it may be found on disk after a crash, bit rot or tampering: it is
 * split into lines the way export and recovery split it, and every line
 * goes through the fast prefix reader and the full parser.  Also feeds
 * the first line to the segment-name and timestamp parsers.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetlog/fleetlog.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	char name[FLEETLOG_SEG_NAMELEN + 8];
	uint64_t a, b;

	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - data - off) : size - off;
		struct fleetlog_line line;
		enum fleetlog_line_status st;
		uint64_t seq, ts;
		int peek;

		peek = fleetlog_peek_line(data + off, len, &seq, &ts);
		st = fleetlog_parse_line(data + off, len, off == 0, &line);
		if (st == FLEETLOG_LINE_OK) {
			assert(line.seq > 0);
			assert(line.type[0] != '\0');
			assert(off != 0 || line.ev != NULL);
			json_object_put(line.ev);
		} else {
			assert(line.ev == NULL && line.seq == 0);
			assert(fleetlog_line_status_str(st)[0] != '?');
		}
		if (peek == 0)
			assert(seq > 0);
		off += len + 1;
	}
	if (size < sizeof(name)) {
		memcpy(name, data, size);
		name[size] = '\0';
		if (fleetlog_segment_parse_name(name, &a, &b) == 0) {
			char back[FLEETLOG_SEG_NAMELEN];
			uint64_t a2, b2;

			/* what it names, it names again the same way */
			fleetlog_segment_name(a, b, back, sizeof(back));
			assert(fleetlog_segment_parse_name(back, &a2, &b2) == 0);
			assert(a2 == a && b2 == b);
		}
	}
	(void)fleetlog_parse_ts((const char *)data, size, &a);
	return 0;
}
