/*
 * libFuzzer target: the device twin's topic parser, and the twin fed a
 * whole exchange: the input's first line is a topic, the rest its payload
 * (GET answers and desired changes go through the JSON checks).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/twin.h"
#include "hal/fake/hal_fake.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
sink(void *arg, const char *topic, const char *payload)
{
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct twin_cb cb = { sink, NULL, NULL, NULL };
	struct twin_topic tt;
	const uint8_t *nl;
	char topic[512];
	struct twin *t;
	size_t tl;

	switch (twin_parse_topic((const char *)data, size, &tt)) {
	case TWIN_TOPIC_RES:
		assert(tt.status >= 100 && tt.status <= 599);
		assert(tt.rid[0] != '\0' && strlen(tt.rid) < TWIN_RID_MAX);
		break;
	case TWIN_TOPIC_DESIRED:
		assert(tt.version >= 0);
		break;
	default:
		break;
	}
	if ((nl = memchr(data, '\n', size)) == NULL ||
	    (tl = (size_t)(nl - data)) >= sizeof(topic))
		return 0;
	memcpy(topic, data, tl);
	topic[tl] = '\0';
	fake_hal_reset();
	if ((t = twin_new(&cb, 3)) == NULL)
		return 0;
	twin_up(t, hal_mono_ms());
	twin_report(t, "{\"a\":1}", hal_mono_ms());
	twin_input(t, topic, nl + 1, size - tl - 1, hal_mono_ms());
	twin_tick(t, hal_mono_ms() + 100000);
	twin_free(t);
	return 0;
}
