/* Writes a seed corpus for fuzz_decode: a few encoded events covering
 * every kind, every optional field and the integer widths, one file each,
 * into the folder given as argv[1] (which must exist). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "common/error.h"

static struct ct_bytes B(const char *s) {
	struct ct_bytes b = { s, (uint32_t)strlen(s) };
	return b;
}

static int
write_seed(const char *dir, unsigned n, const struct ct_event *ev)
{
	static unsigned char buf[CT_RECORD_MAX];
	char path[4096];
	ssize_t len;
	FILE *f;

	len = ct_event_encode(ev, buf, sizeof(buf));
	if (len < 0) {
		fprintf(stderr, "gen_seeds: encode: %s\n",
			ct_strerror((int)len));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/seed-%03u", dir, n);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, (size_t)len, f) != (size_t)len ||
	    fclose(f) != 0) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char *args[] = { "sh", "-c", "rm -rf build && make", "", NULL };
	struct ct_event ev;
	unsigned kind, n = 0, bit;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	for (kind = 1; kind < CT_KIND__COUNT; kind++) {
		memset(&ev, 0, sizeof(ev));
		ev.kind = (uint8_t)kind;
		ev.source = (uint8_t)(1 + kind % (CT_SOURCE__COUNT - 1));
		ev.ts = 1700000000000000000ull + kind * 1000003ull;
		ev.pid = (int32_t)(100 + kind * 997);
		ev.tid = ev.pid + (int32_t)(kind % 3);
		ev.ppid = kind % 4 ? 1 : 70000;
		ev.pstart = kind % 5 ? ev.ts - 5000 : 0;
		ev.result = kind % 2 ? -ENOENT : (int64_t)kind;
		ev.err = kind % 2 ? ENOENT : 0;
		/* a different selection of optional fields per kind */
		ev.present = (uint32_t)((kind * 0x9e37u) & 0xffffu);
		ev.path = B("/home/user/project/src/main.c");
		ev.path2 = B("/home/user/project/src/main.c~");
		ev.flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
		ev.mode = 0644;
		ev.argv_in = args;
		ev.exe = B("/usr/bin/sh");
		ev.addr = B("[::1]:443");
		ev.exit_code = (int32_t)kind - 3;
		ev.signal = kind % 2 ? 9 : 0;
		ev.reason = B("static binary");
		ev.cwd = B("/home/user/project");
		ev.parent_start = 1ull << 40;
		ev.argv_dropped = kind;
		ev.fd = -100;
		ev.reporter = 1;
		ev.existed = kind % 2;
		if (write_seed(argv[1], n++, &ev))
			return 1;
	}
	/* each optional field alone */
	for (bit = 0; bit < CT_F__COUNT; bit++) {
		ev.present = 1u << bit;
		if (write_seed(argv[1], n++, &ev))
			return 1;
	}
	return 0;
}
