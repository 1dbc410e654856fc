// SPDX-License-Identifier: GPL-2.0
/*
 * egm - list NVIDIA Grace Extended GPU Memory (EGM) regions, carve windows
 * out of them and hand the windows to a VMM.
 *
 * See egm(1) (tools/egm/egm.1) and Documentation/userspace-api/egm.rst.
 *
 * Copyright (c) 2026, The egm authors.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/egm.h>

#define EGM_DEV		"/dev/egm"
/* Where the driver shows that it is loaded, and its device number. */
#define EGM_SYS_MODULE	"/sys/module/egm"
#define EGM_SYS_MISC	"/sys/class/misc/egm/dev"

/* Exit codes, as documented in the usage text and in egm(1). */
#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define EXIT_NOEXEC	126
#define EXIT_NOTFOUND	127

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define COMMANDS	"list, alloc, info, windows or help"

static void print_usage(FILE *f)
{
	fprintf(f,
		"Usage: egm COMMAND [ARGS...]\n"
		"\n"
		"List NVIDIA Grace Extended GPU Memory (EGM) regions and carve zeroed\n"
		"windows out of them for virtual machines, through " EGM_DEV ".\n"
		"\n"
		"Commands:\n"
		"  list [--bytes] [--json]\n"
		"                     show every region (EGM_QUERY): size, free bytes,\n"
		"                     alignments, the largest free extent (LARGEST),\n"
		"                     the largest one without bad pages (LARGEST-GOOD)\n"
		"                     and the free bytes already zeroed (CLEAN)\n"
		"  alloc --pxm N --size SIZE [--align ALIGN] [--no-bad-pages] [--holes]\n"
		"        [--async] [--check] [--exec CMD [ARGS...]]\n"
		"                     carve a window out of the region of proximity\n"
		"                     domain N (EGM_ALLOC)\n"
		"  info [--json] FD|PATH\n"
		"                     describe a window (EGM_WINDOW_INFO): the number of\n"
		"                     an inherited file descriptor, or a path such as\n"
		"                     /proc/PID/fd/N\n"
		"  windows [--bytes] [--json]\n"
		"                     list the windows open in any process: one line per\n"
		"                     file descriptor, found in /proc/PID/fd (root)\n"
		"  help               show this text\n"
		"\n"
		"  --bytes            print exact byte counts instead of K/M/G/T sizes\n"
		"  --json             print one JSON document instead of the table: the\n"
		"                     field names of <linux/egm.h>, sizes as integers\n"
		"                     in bytes\n"
		"\n"
		"alloc options:\n"
		"  -p, --pxm N        proximity domain of the region, see 'egm list'\n"
		"  -s, --size SIZE    window length in bytes; K, M, G and T suffixes\n"
		"                     multiply by powers of 1024 (2M, 1.5G)\n"
		"  -a, --align ALIGN  physical alignment and largest mapping size of the\n"
		"                     window, one of the region's ALIGN values; default:\n"
		"                     the PMD size (2M with 4K pages, 512M with 64K) if\n"
		"                     the region supports it, else the page size\n"
		"      --no-bad-pages fail unless the window can be placed where it\n"
		"                     holds no retired or poisoned page\n"
		"      --holes        leave the window's bad pages unmapped (a CPU\n"
		"                     access gets SIGBUS, a device an IOMMU fault)\n"
		"                     instead of backing each with a spare page; for\n"
		"                     VMMs that tell the guest about bad pages\n"
		"      --async        do not wait for the window to be zeroed: each page\n"
		"                     is zeroed before it is first reached, so CMD can\n"
		"                     start meanwhile ('egm info' shows what is pending)\n"
		"  -c, --check        map the window, check that it reads as zero, write\n"
		"                     a pattern, read it back and zero it again, all but\n"
		"                     the holes; print the throughput of each pass\n"
		"  -e, --exec CMD [ARGS...]\n"
		"                     must come last: run CMD with the window fd\n"
		"                     inherited, every \"{}\" in ARGS replaced by the fd\n"
		"                     number and EGM_FD=<fd> in the environment\n"
		"\n"
		"A window is placed where it holds no bad page whenever such a place\n"
		"exists. If none does, each of its bad pages is backed by a spare page\n"
		"of the region (substituted), unless --holes or --no-bad-pages is\n"
		"given; 'egm info' lists them.\n"
		"\n"
		"Without --exec, alloc prints the window and holds it until Ctrl-C,\n"
		"SIGTERM, SIGHUP or end of input on stdin; other processes can open it\n"
		"meanwhile through the /proc/PID/fd/N path it prints. The memory goes\n"
		"back to the region when the last file and mapping of it are gone.\n"
		"With --check, the window is checked before it is held or CMD runs,\n"
		"and released with status 1 if the check fails.\n"
		"\n"
		"'egm windows' does not see a window that only a mapping or a DMA\n"
		"import keeps alive, with no file descriptor left.\n"
		"\n"
		"Example, a guest NUMA node backed by 64 GiB of socket 0's EGM:\n"
		"  egm alloc --pxm 0 --size 64G --align 1G --exec qemu-system-aarch64 ...\n"
		"    -object memory-backend-file,id=m0,mem-path=/proc/self/fd/{},size=64G,share=on,prealloc=on\n"
		"    -numa node,memdev=m0 ...\n"
		"\n"
		"Exit status: 0 success, 1 the operation failed, 2 usage error,\n"
		"126 CMD could not be run, 127 CMD was not found.\n"
		"See egm(1) for more, and recipes.\n");
}

/* Compile-time checked formats, without a variadic function. */
#define err(fmt, ...) fprintf(stderr, "egm: " fmt "\n", ##__VA_ARGS__)

static int usage_hint(void)
{
	fprintf(stderr, "Try 'egm help' for more information.\n");
	return EXIT_USAGE;
}

static int usage_err(const char *msg, const char *arg)
{
	if (arg)
		err("%s '%s'", msg, arg);
	else
		err("%s", msg);
	return usage_hint();
}

/*
 * "447G", "1.75G", "1100M", "4096": exact, so parse_size() reads them
 * back; or, when no short form is exact, two decimals: "1.00G".
 */
static const char *fmt_size(char *buf, size_t len, unsigned long long v)
{
	static const char units[] = "KMGTPE";
	unsigned int u = 0, k;
	size_t n;

	while (u < sizeof(units) - 1 && v >= 1024ULL << (10 * u))
		u++;
	if (!u) {
		snprintf(buf, len, "%llu", v);
		return buf;
	}
	if (!(v & ((1ULL << (10 * u)) - 1))) {
		snprintf(buf, len, "%llu%c", v >> (10 * u), units[u - 1]);
		return buf;
	}
	/* Quarters: "1.25G", "1.5G", "1.75G", not "1.50G". */
	if (!(v & ((1ULL << (10 * u - 2)) - 1))) {
		snprintf(buf, len, "%.2f", (double)v / (1ULL << (10 * u)));
		n = strlen(buf);
		while (n > 1 && buf[n - 1] == '0')
			n--;
		snprintf(buf + n, len - n, "%c", units[u - 1]);
		return buf;
	}
	/* A smaller unit, while the number stays short: "1100M", "4095". */
	for (k = u; k-- > 0;) {
		if (v & ((1ULL << (10 * k)) - 1))
			continue;
		if (v >> (10 * k) >= 10000)
			break;
		if (k)
			snprintf(buf, len, "%llu%c", v >> (10 * k),
				 units[k - 1]);
		else
			snprintf(buf, len, "%llu", v);
		return buf;
	}
	snprintf(buf, len, "%.2f%c", (double)v / (1ULL << (10 * u)),
		 units[u - 1]);
	return buf;
}

/*
 * A byte count: decimal, or hexadecimal after 0x, with an optional K, M, G
 * or T suffix (KiB, MB, ... too). A suffixed number may have up to four
 * decimals ("1.5G"), as long as it comes to a whole number of bytes.
 * Returns 0, SIZE_BAD, SIZE_FRACTION or SIZE_BIG.
 */
enum { SIZE_BAD = -1, SIZE_FRACTION = -2, SIZE_BIG = -3 };

static int parse_size(const char *s, unsigned long long *out)
{
	static const char units[] = "KMGT";
	unsigned long long v, frac = 0, div = 1;
	int base = 10, shift = 0, digits = 0;
	const char *p;
	char *end;

	if (!isdigit((unsigned char)*s))
		return SIZE_BAD;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno == ERANGE)
		return SIZE_BIG;
	if (errno || end == s)
		return SIZE_BAD;
	if (base == 10 && *end == '.') {
		for (end++; isdigit((unsigned char)*end); end++) {
			if (++digits > 4)
				return SIZE_FRACTION;
			frac = frac * 10 + (unsigned long long)(*end - '0');
			div *= 10;
		}
		if (!digits)
			return SIZE_BAD;
	}
	if (*end) {
		p = strchr(units, toupper((unsigned char)*end));
		if (!p)
			return SIZE_BAD;
		shift = 10 * (int)(p - units + 1);
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return SIZE_BAD;
	}
	if (digits && (!shift || (frac << shift) % div))
		return SIZE_FRACTION;	/* "1.5", "1.3M" */
	if (shift && v > (~0ULL >> shift))
		return SIZE_BIG;
	v <<= shift;
	if (digits && v + (frac << shift) / div < v)
		return SIZE_BIG;
	*out = v + (digits ? (frac << shift) / div : 0);
	return 0;
}

/* --size and --align: a usage error that says what a size looks like. */
static int parse_size_opt(const char *what, const char *s,
			  unsigned long long *out)
{
	switch (parse_size(s, out)) {
	case 0:
		break;
	case SIZE_FRACTION:
		err("bad %s '%s': not a whole number of bytes", what, s);
		return -1;
	case SIZE_BIG:
		err("bad %s '%s': more than 16E", what, s);
		return -1;
	default:
		err("bad %s '%s': not a number of bytes", what, s);
		err("give a number, with a K, M, G or T suffix for powers of 1024: 2M, 1.5G, 64G");
		return -1;
	}
	if (!*out) {
		err("bad %s '%s': it must not be 0", what, s);
		return -1;
	}
	return 0;
}

static int parse_u32(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > UINT_MAX)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

/* The first line of a small file, without its newline; 0 on success. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ret = -1;

	if (!f)
		return -1;
	if (fgets(buf, (int)len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		ret = 0;
	}
	fclose(f);
	return ret;
}

/*
 * The name of group @gid from /etc/group, or its number: getgrgid() would
 * need glibc's NSS modules at run time in a static build.
 */
static const char *group_name(char *buf, size_t len, gid_t gid)
{
	char line[512], *name, *gidstr;
	FILE *f = fopen("/etc/group", "re");

	snprintf(buf, len, "%u", (unsigned int)gid);
	if (!f)
		return buf;
	while (fgets(line, sizeof(line), f)) {
		name = strtok(line, ":");
		if (!name || !strtok(NULL, ":"))
			continue;
		gidstr = strtok(NULL, ":\n");
		if (gidstr && strtoul(gidstr, NULL, 10) == gid) {
			snprintf(buf, len, "'%s'", name);
			break;
		}
	}
	fclose(f);
	return buf;
}

/* Why /dev/egm does not exist, and what to do about it. */
static void no_dev_hint(void)
{
	char dev[32], *colon;

	if (!read_line(EGM_SYS_MISC, dev, sizeof(dev))) {
		colon = strchr(dev, ':');
		if (colon)
			*colon = ' ';
		err("the egm driver is loaded and registered its device, but there is no %s node:",
		    EGM_DEV);
		err("mount devtmpfs on /dev, or create it with 'mknod -m 0600 %s c %s'",
		    EGM_DEV, dev);
	} else if (!access(EGM_SYS_MODULE, F_OK)) {
		err("the egm module is loaded but registered no device; see 'dmesg | grep egm'");
	} else {
		err("the egm module is not loaded: load it with 'modprobe egm' (as root)");
		err("it creates %s even with no EGM region; 'egm list' then shows none",
		    EGM_DEV);
	}
}

/* Who may open /dev/egm, and how to let a VMM operator in. */
static void access_hint(void)
{
	char group[64];
	struct stat st;

	if (stat(EGM_DEV, &st))
		return;
	if (st.st_uid == 0 && !(st.st_mode & 0066)) {
		err("%s is root-only (mode %04o): run egm as root,", EGM_DEV,
		    (unsigned int)(st.st_mode & 07777));
		err("or let a group open it with a udev rule (see FILES in egm(1)), such as");
		err("  SUBSYSTEM==\"misc\", KERNEL==\"egm\", GROUP=\"kvm\", MODE=\"0660\"");
		err("in /etc/udev/rules.d/60-egm.rules. A VMM given window fds needs no %s.",
		    EGM_DEV);
	} else {
		err("%s is mode %04o, owner uid %u, group %s:", EGM_DEV,
		    (unsigned int)(st.st_mode & 07777), (unsigned int)st.st_uid,
		    group_name(group, sizeof(group), st.st_gid));
		err("run egm as that user, or join that group (a udev rule sets them, see egm(1))");
	}
}

static int open_egm(void)
{
	int fd = open(EGM_DEV, O_RDWR | O_CLOEXEC);
	int e = errno;

	if (fd >= 0)
		return fd;
	err("cannot open %s: %s", EGM_DEV, strerror(e));
	switch (e) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		no_dev_hint();
		break;
	case EACCES:
	case EPERM:
		access_hint();
		break;
	}
	return -1;
}

/*
 * Fill *infop with every region. The count can change between the two
 * calls (a region may be bound or unbound), so retry on ENOSPC.
 */
static int query_regions(int fd, struct egm_region_info **infop,
			 unsigned int *np)
{
	struct egm_region_info *info = NULL, *tmp;
	unsigned int cap = 0;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		struct egm_query q = {
			.size = sizeof(q),
			.num_regions = cap,
			.entry_size = sizeof(*info),
			.regions_uptr = (__u64)(uintptr_t)info,
		};

		if (!ioctl(fd, EGM_QUERY, &q)) {
			*infop = info;
			*np = q.num_regions;
			return 0;
		}
		if (errno != ENOSPC) {
			err("EGM_QUERY failed: %s", strerror(errno));
			free(info);
			return -1;
		}
		cap = q.num_regions;
		tmp = realloc(info, (size_t)cap * sizeof(*info));
		if (!tmp) {
			err("out of memory");
			free(info);
			return -1;
		}
		info = tmp;
	}
	err("EGM_QUERY: the regions keep changing; try again");
	free(info);
	return -1;
}

static const struct egm_region_info *
find_region(const struct egm_region_info *info, unsigned int n,
	    unsigned int pxm)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (info[i].pxm == pxm)
			return &info[i];
	return NULL;
}

/* "0", "0 and 1", "0, 1 and 2": the PXMs that have a region. */
static void fmt_pxms(char *buf, size_t len, const struct egm_region_info *info,
		     unsigned int n)
{
	size_t used = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%u",
				 !i ? "" : i == n - 1 ? " and " : ", ",
				 info[i].pxm);
}

static void unknown_pxm(const struct egm_region_info *info, unsigned int n,
			unsigned int pxm)
{
	char pxms[256];

	if (!n) {
		err("no EGM region has PXM %u: this machine has no EGM region at all",
		    pxm);
		err("(neither the firmware nor egm.regions= gives one; see 'dmesg | grep egm')");
		return;
	}
	fmt_pxms(pxms, sizeof(pxms), info, n);
	err("no EGM region has PXM %u; the PXM%s with a region: %s (see 'egm list')",
	    pxm, n == 1 ? "" : "s", pxms);
}

/* "4K,2M,1G" (or bytes), or "4K, 2M and 1G" with @words. */
static void fmt_align(char *buf, size_t len, __u64 mask, bool bytes,
		      bool words)
{
	unsigned int bits = __builtin_popcountll(mask), k = 0;
	char one[32];
	size_t used = 0;
	int bit;

	buf[0] = '\0';
	for (bit = 0; bit < 64 && used < len; bit++) {
		if (!(mask & (1ULL << bit)))
			continue;
		if (bytes)
			snprintf(one, sizeof(one), "%llu", 1ULL << bit);
		else
			fmt_size(one, sizeof(one), 1ULL << bit);
		used += snprintf(buf + used, len - used, "%s%s",
				 !k ? "" : !words ? "," :
				 k == bits - 1 ? " and " : ", ", one);
		k++;
	}
	if (!buf[0])
		snprintf(buf, len, words ? "none" : "-");
}

/*
 * The alignment a window gets without --align: the PMD size if the region
 * supports it, else the page size, else the smallest it supports. A page
 * table page holds page_size / 8 entries, so the PMD size is that many
 * pages: 2M with 4K pages, 32M with 16K, 512M with 64K.
 */
static __u64 default_align(const struct egm_region_info *r)
{
	__u64 ps = r->page_size, pmd = ps * (ps / 8);

	if (pmd && !(pmd & (pmd - 1)) && (r->align & pmd))
		return pmd;
	if (ps && !(ps & (ps - 1)) && (r->align & ps))
		return ps;
	return r->align & -r->align;
}

/*
 * A small JSON writer for --json: one document on stdout, members indented
 * by two spaces, short arrays and objects flat on one line. Strings are
 * escaped, and bytes that are not UTF-8 become U+FFFD.
 */
struct json {
	FILE *f;
	int depth;
	int flat;	/* depth of the outermost flat container, or 0 */
	bool more;	/* the current container has a member already */
};

/* Length of the valid UTF-8 sequence at @p (not ASCII), or 0. */
static int utf8_seq(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		if (p[0] == 0xed)
			hi = 0x9f;	/* no UTF-16 surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		if (p[0] == 0xf4)
			hi = 0x8f;	/* nothing above U+10FFFF */
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

static void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	fputc('"', f);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p++);
		} else if (*p == '\n') {
			fputs("\\n", f);
			p++;
		} else if (*p == '\t') {
			fputs("\\t", f);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, f);
		} else {
			n = utf8_seq(p);
			if (n) {
				fwrite(p, 1, n, f);
				p += n;
			} else {
				fputs("\\ufffd", f);
				p++;
			}
		}
	}
	fputc('"', f);
}

/* Start a member: the separator, the indentation and the key, if any. */
static void json_member(struct json *j, const char *key)
{
	if (j->flat && j->depth >= j->flat)
		fputs(j->more ? ", " : "", j->f);
	else if (j->depth)
		fprintf(j->f, "%s\n%*s", j->more ? "," : "", 2 * j->depth, "");
	if (key) {
		json_string(j->f, key);
		fputs(": ", j->f);
	}
	j->more = true;
}

/* Open an object ('{') or an array ('['), on one line if @flat. */
static void json_open(struct json *j, const char *key, char c, bool flat)
{
	json_member(j, key);
	fputc(c, j->f);
	j->depth++;
	j->more = false;
	if (flat && !j->flat)
		j->flat = j->depth;
}

static void json_close(struct json *j, char c)
{
	if (!(j->flat && j->depth >= j->flat) && j->more)
		fprintf(j->f, "\n%*s", 2 * (j->depth - 1), "");
	fputc(c, j->f);
	if (j->flat == j->depth)
		j->flat = 0;
	j->depth--;
	j->more = true;
	if (!j->depth)
		fputc('\n', j->f);
}

static void json_u64(struct json *j, const char *key, unsigned long long v)
{
	json_member(j, key);
	fprintf(j->f, "%llu", v);
}

static void json_s64(struct json *j, const char *key, long long v)
{
	json_member(j, key);
	fprintf(j->f, "%lld", v);
}

static void json_str(struct json *j, const char *key, const char *s)
{
	json_member(j, key);
	json_string(j->f, s);
}

static void json_bool(struct json *j, const char *key, bool v)
{
	json_member(j, key);
	fputs(v ? "true" : "false", j->f);
}

/* Flags as an array of names; a bit without a name as "0x..". */
static void json_flags(struct json *j, const char *key, __u32 flags,
		       const char * const *names, unsigned int nnames)
{
	char unknown[16];
	unsigned int bit;

	json_open(j, key, '[', true);
	for (bit = 0; bit < 32; bit++) {
		if (!(flags & (1U << bit)))
			continue;
		if (bit < nnames && names[bit]) {
			json_str(j, NULL, names[bit]);
		} else {
			snprintf(unknown, sizeof(unknown), "0x%x", 1U << bit);
			json_str(j, NULL, unknown);
		}
	}
	json_close(j, ']');
}

/* The same names, comma-separated, for the human output. */
static const char *fmt_flags(char *buf, size_t len, __u32 flags,
			     const char * const *names, unsigned int nnames)
{
	size_t used = 0;
	unsigned int bit;

	snprintf(buf, len, "none");
	for (bit = 0; bit < 32 && used < len; bit++) {
		if (!(flags & (1U << bit)))
			continue;
		if (bit < nnames && names[bit])
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? "," : "", names[bit]);
		else
			used += snprintf(buf + used, len - used, "%s0x%x",
					 used ? "," : "", 1U << bit);
	}
	return buf;
}

/* Indexed by bit number, as named in egm-json.schema.json. */
static const char * const alloc_flag_names[] = {
	"no_bad_pages",		/* EGM_ALLOC_NO_BAD_PAGES */
	"holes",		/* EGM_ALLOC_HOLES */
	"async",		/* EGM_ALLOC_ASYNC */
};

static const char * const bad_page_flag_names[] = {
	"retired",		/* EGM_BAD_PAGE_RETIRED */
	"poisoned",		/* EGM_BAD_PAGE_POISONED */
	"substituted",		/* EGM_BAD_PAGE_SUBSTITUTED */
};

static void list_json(const struct egm_region_info *info, unsigned int n)
{
	struct json j = { .f = stdout };
	unsigned int i;
	int bit;

	json_open(&j, NULL, '{', false);
	json_open(&j, "regions", '[', false);
	for (i = 0; i < n; i++) {
		const struct egm_region_info *r = &info[i];

		json_open(&j, NULL, '{', false);
		json_u64(&j, "id", r->id);
		json_u64(&j, "pxm", r->pxm);
		json_s64(&j, "numa_node", r->numa_node);
		json_u64(&j, "size", r->size);
		json_u64(&j, "free", r->free);
		json_u64(&j, "clean", r->clean);
		json_u64(&j, "largest_free", r->largest_free);
		json_u64(&j, "largest_free_good", r->largest_free_good);
		json_open(&j, "align", '[', true);
		for (bit = 0; bit < 64; bit++)
			if (r->align & (1ULL << bit))
				json_u64(&j, NULL, 1ULL << bit);
		json_close(&j, ']');
		json_u64(&j, "retired_pages", r->retired_pages);
		json_u64(&j, "poisoned_pages", r->poisoned_pages);
		json_u64(&j, "page_size", r->page_size);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_close(&j, '}');
}

/* A byte count for a table: exact with --bytes, else "1.5G". */
static const char *fmt_bytes(char *buf, size_t len, unsigned long long v,
			     bool bytes)
{
	if (bytes)
		snprintf(buf, len, "%llu", v);
	else
		fmt_size(buf, len, v);
	return buf;
}

static void list_table(const struct egm_region_info *info, unsigned int n,
		       bool bytes)
{
	char size[32], free_[32], big[32], good[32], align[128], page[32];
	char clean[32];
	char node[16];
	int w = bytes ? 14 : 7;
	unsigned int i;

	if (!n) {
		printf("no EGM regions (the firmware describes none; see 'dmesg | grep egm')\n");
		return;
	}
	/* ALIGN stays the sixth column, for scripts that read the table. */
	printf("%-4s %-5s %-5s %*s %*s %-22s %*s %*s %8s %8s %-5s %*s\n", "ID",
	       "PXM", "NODE", w, "SIZE", w, "FREE", "ALIGN", w, "LARGEST",
	       bytes ? 14 : 12, "LARGEST-GOOD", "RETIRED", "POISONED", "PAGE",
	       w, "CLEAN");
	for (i = 0; i < n; i++) {
		const struct egm_region_info *r = &info[i];

		fmt_bytes(size, sizeof(size), r->size, bytes);
		fmt_bytes(free_, sizeof(free_), r->free, bytes);
		fmt_bytes(big, sizeof(big), r->largest_free, bytes);
		fmt_bytes(good, sizeof(good), r->largest_free_good, bytes);
		fmt_bytes(page, sizeof(page), r->page_size, bytes);
		fmt_bytes(clean, sizeof(clean), r->clean, bytes);
		fmt_align(align, sizeof(align), r->align, bytes, false);
		if (r->numa_node < 0)
			snprintf(node, sizeof(node), "-");
		else
			snprintf(node, sizeof(node), "%d", r->numa_node);
		printf("%-4u %-5u %-5s %*s %*s %-22s %*s %*s %8llu %8llu %-5s %*s\n",
		       r->id, r->pxm, node, w, size, w, free_, align, w, big,
		       bytes ? 14 : 12, good,
		       (unsigned long long)r->retired_pages,
		       (unsigned long long)r->poisoned_pages, page, w, clean);
	}
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct egm_region_info *info;
	bool bytes = false, json = false;
	unsigned int n;
	int fd, c;

	while ((c = getopt_long(argc, argv, "+bjh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bytes = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			return usage_hint();
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument", argv[optind]);

	fd = open_egm();
	if (fd < 0)
		return EXIT_FAIL;
	if (query_regions(fd, &info, &n)) {
		close(fd);
		return EXIT_FAIL;
	}
	close(fd);

	if (json)
		list_json(info, n);
	else
		list_table(info, n, bytes);
	free(info);
	return 0;
}

/* EGM_WINDOW_INFO with the bad page list; *badp must be freed. */
static int window_info(int fd, struct egm_window_info *wi,
		       struct egm_bad_page **badp)
{
	struct egm_bad_page *bad = NULL, *tmp;
	unsigned int cap = 0;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		memset(wi, 0, sizeof(*wi));
		wi->size = sizeof(*wi);
		wi->num_bad_pages = cap;
		wi->bad_pages_uptr = (__u64)(uintptr_t)bad;
		if (!ioctl(fd, EGM_WINDOW_INFO, wi)) {
			*badp = bad;
			return 0;
		}
		if (errno != ENOSPC) {
			free(bad);
			return -1;
		}
		/* More pages may be poisoned before the next call. */
		cap = wi->num_bad_pages + 16;
		tmp = realloc(bad, (size_t)cap * sizeof(*bad));
		if (!tmp) {
			free(bad);
			errno = ENOMEM;
			return -1;
		}
		bad = tmp;
	}
	free(bad);
	errno = EAGAIN;
	return -1;
}

/* A bad page that nothing backs: never mapped, never to be touched. */
static bool is_hole(const struct egm_bad_page *b)
{
	return !(b->flags & EGM_BAD_PAGE_SUBSTITUTED);
}

static void print_window(const char *path, const struct egm_window_info *wi,
			 const struct egm_bad_page *bad, bool revoked)
{
	char a[32], b[32], flags[64];
	unsigned int i;

	printf("path:        %s\n", path);
	printf("pxm:         %u\n", wi->pxm);
	printf("numa_node:   %d\n", wi->numa_node);
	printf("length:      %llu (%s)\n", (unsigned long long)wi->length,
	       fmt_size(a, sizeof(a), wi->length));
	printf("alignment:   %llu (%s)\n", (unsigned long long)wi->alignment,
	       fmt_size(b, sizeof(b), wi->alignment));
	printf("page_size:   %llu\n", (unsigned long long)wi->page_size);
	printf("alloc_flags: %s\n",
	       fmt_flags(flags, sizeof(flags), wi->alloc_flags,
			 alloc_flag_names, ARRAY_SIZE(alloc_flag_names)));
	if (revoked)
		printf("revoked:     yes (the region was removed)\n");
	if (wi->pending)
		printf("pending:     %llu (%s not zeroed yet)\n",
		       (unsigned long long)wi->pending,
		       fmt_size(a, sizeof(a), wi->pending));
	printf("bad_pages:   %u", wi->num_bad_pages);
	if (wi->num_bad_pages)
		printf(" (%u substituted by spare pages, %u holes)",
		       wi->num_substituted,
		       wi->num_bad_pages - wi->num_substituted);
	printf("\n");
	for (i = 0; i < wi->num_bad_pages; i++)
		printf("  offset 0x%llx length 0x%llx%s%s %s\n",
		       (unsigned long long)bad[i].offset,
		       (unsigned long long)wi->page_size,
		       bad[i].flags & EGM_BAD_PAGE_RETIRED ? " retired" : "",
		       bad[i].flags & EGM_BAD_PAGE_POISONED ? " poisoned" : "",
		       is_hole(&bad[i]) ? "hole" : "substituted");
	fflush(stdout);
}

/* The members of a window object (egm-json.schema.json, "window"). */
static void window_json(struct json *j, const char *path, int fd, ino_t ino,
			bool revoked, const struct egm_window_info *wi,
			const struct egm_bad_page *bad)
{
	unsigned int i;

	json_str(j, "path", path);
	if (fd >= 0)
		json_s64(j, "fd", fd);
	json_u64(j, "ino", (unsigned long long)ino);
	json_u64(j, "pxm", wi->pxm);
	json_s64(j, "numa_node", wi->numa_node);
	json_u64(j, "length", wi->length);
	json_u64(j, "alignment", wi->alignment);
	json_u64(j, "page_size", wi->page_size);
	json_flags(j, "alloc_flags", wi->alloc_flags, alloc_flag_names,
		   ARRAY_SIZE(alloc_flag_names));
	json_u64(j, "num_bad_pages", wi->num_bad_pages);
	json_u64(j, "num_substituted", wi->num_substituted);
	json_u64(j, "pending", wi->pending);
	json_open(j, "bad_pages", '[', false);
	for (i = 0; i < wi->num_bad_pages; i++) {
		json_open(j, NULL, '{', true);
		json_u64(j, "offset", bad[i].offset);
		json_flags(j, "flags", bad[i].flags, bad_page_flag_names,
			   ARRAY_SIZE(bad_page_flag_names));
		json_close(j, '}');
	}
	json_close(j, ']');
	json_bool(j, "revoked", revoked);
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd	438
#endif

/*
 * Get a file of the window that @pid has open as @fd: reopen it, or if
 * that fails because its region was removed, duplicate the process's own
 * file with pidfd_getfd(), which EGM_WINDOW_INFO still works on.
 */
static int grab_window(int pid, int fd, const char *path, bool *revoked)
{
	int f, pidfd;

	*revoked = false;
	/* Not blocking on a FIFO that a path given to 'info' may be. */
	f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (f >= 0 || errno != ENODEV)
		return f;
	*revoked = true;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		errno = ENODEV;
		return -1;
	}
	f = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if (f < 0)
		errno = ENODEV;
	return f;
}

/* @fd is a window file; @shown_fd, if not -1, the number the user gave. */
static int describe_window(int fd, int shown_fd, const char *path,
			   bool revoked, bool json)
{
	struct json j = { .f = stdout };
	struct egm_window_info wi;
	struct egm_bad_page *bad;
	struct stat st;

	if (window_info(fd, &wi, &bad)) {
		if (errno == ENOTTY)
			err("%s is not an EGM window ('egm windows' lists them)",
			    path);
		else
			err("EGM_WINDOW_INFO on %s failed: %s", path,
			    strerror(errno));
		return EXIT_FAIL;
	}
	if (fstat(fd, &st)) {
		err("cannot stat %s: %s", path, strerror(errno));
		free(bad);
		return EXIT_FAIL;
	}
	if (json) {
		json_open(&j, NULL, '{', false);
		window_json(&j, path, shown_fd, st.st_ino, revoked, &wi, bad);
		json_close(&j, '}');
	} else {
		print_window(path, &wi, bad, revoked);
	}
	free(bad);
	return 0;
}

/* "/proc/PID/fd/N" or "/proc/self/fd/N": 0 and the numbers, or -1. */
static int parse_proc_fd(const char *path, int *pid, int *fd)
{
	int end = 0;

	if (sscanf(path, "/proc/self/fd/%d%n", fd, &end) == 1 && !path[end]) {
		*pid = (int)getpid();
		return 0;
	}
	end = 0;
	if (sscanf(path, "/proc/%d/fd/%d%n", pid, fd, &end) == 2 && !path[end])
		return 0;
	return -1;
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	char path[64], self[64];
	bool json = false, revoked = false;
	unsigned int num;
	int fd, ret, c, pid, pfd;
	const char *arg;

	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			return usage_hint();
		}
	}
	if (optind != argc - 1)
		return usage_err("'info' takes one FD number or PATH", NULL);
	arg = argv[optind];

	if (!parse_u32(arg, &num)) {
		if (num > INT_MAX || fcntl((int)num, F_GETFD) < 0) {
			err("file descriptor %s is not open in this process", arg);
			err("for another process's window, give a path such as /proc/PID/fd/N");
			return EXIT_FAIL;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%u", num);
		/* A reopen fails with ENODEV once the region is gone. */
		snprintf(self, sizeof(self), "/proc/%d/fd/%u", (int)getpid(),
			 num);
		fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0)
			close(fd);
		else if (errno == ENODEV)
			revoked = true;
		return describe_window((int)num, (int)num, path, revoked,
				       json);
	}

	if (!parse_proc_fd(arg, &pid, &pfd))
		fd = grab_window(pid, pfd, arg, &revoked);
	else
		fd = open(arg, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENODEV)
			err("cannot open %s: %s (the window's region was removed)",
			    arg, strerror(errno));
		else
			err("cannot open %s: %s", arg, strerror(errno));
		return EXIT_FAIL;
	}
	ret = describe_window(fd, -1, arg, revoked, json);
	close(fd);
	return ret;
}

/*
 * egm windows: every window file that a process has open, found by the
 * name of its file in /proc/PID/fd and described through a reopen.
 */
#define WINDOW_NAME	"egm-window"

/* The link of a window fd reads "/egm-window (deleted)" or the like. */
static bool is_window_link(const char *link)
{
	size_t n = strlen(WINDOW_NAME);

	if (*link == '/')
		link++;
	if (strncmp(link, WINDOW_NAME, n))
		return false;
	link += n;
	return !*link || !strcmp(link, " (deleted)");
}

static int numeric_dirent(const struct dirent *d)
{
	const char *p = d->d_name;

	if (!*p)
		return 0;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

static int numeric_cmp(const struct dirent **a, const struct dirent **b)
{
	unsigned long x = strtoul((*a)->d_name, NULL, 10);
	unsigned long y = strtoul((*b)->d_name, NULL, 10);

	return (x > y) - (x < y);
}

struct windows_scan {
	bool bytes;
	struct json *json;		/* NULL: print the table */
	unsigned int files;		/* window files listed */
	unsigned int denied;		/* processes we may not look into */
	unsigned long long total;	/* bytes, each window once */
	ino_t *seen;			/* inodes of the windows counted */
	unsigned int nseen;
};

/* Count each window once, however many files it has; 1 if new. */
static int window_seen(struct windows_scan *ws, ino_t ino)
{
	ino_t *tmp;
	unsigned int i;

	for (i = 0; i < ws->nseen; i++)
		if (ws->seen[i] == ino)
			return 0;
	tmp = realloc(ws->seen, (ws->nseen + 1) * sizeof(*tmp));
	if (!tmp)
		return 0;
	ws->seen = tmp;
	ws->seen[ws->nseen++] = ino;
	return 1;
}

static void windows_print_fd(struct windows_scan *ws, int pid,
			     const char *comm, int fd)
{
	char path[64], link[PATH_MAX], len[32], align[32], node[16], name[64];
	struct egm_window_info wi;
	struct egm_bad_page *bad;
	struct stat st;
	bool revoked;
	ssize_t n;
	int f, i;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return;
	link[n] = '\0';
	if (!is_window_link(link))
		return;

	f = grab_window(pid, fd, path, &revoked);
	if (f < 0)
		return;		/* closed meanwhile */
	if (window_info(f, &wi, &bad)) {
		close(f);
		return;		/* not a window after all */
	}
	if (fstat(f, &st)) {
		close(f);
		free(bad);
		return;
	}
	close(f);

	ws->files++;
	if (window_seen(ws, st.st_ino))
		ws->total += wi.length;
	if (ws->json) {
		json_open(ws->json, NULL, '{', false);
		json_s64(ws->json, "pid", pid);
		json_str(ws->json, "comm", comm);
		window_json(ws->json, path, fd, st.st_ino, revoked, &wi, bad);
		json_close(ws->json, '}');
		free(bad);
		return;
	}
	free(bad);

	/* The table is for a terminal: no control characters from comm. */
	snprintf(name, sizeof(name), "%s", comm);
	for (i = 0; name[i]; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			name[i] = '?';
	if (ws->files == 1)
		printf("%7s %-15s %4s %8s %4s %4s %10s %6s %4s %s\n", "PID",
		       "COMM", "FD", "WINDOW", "PXM", "NODE", "LENGTH",
		       "ALIGN", "BAD", "STATE");
	fmt_bytes(len, sizeof(len), wi.length, ws->bytes);
	fmt_bytes(align, sizeof(align), wi.alignment, ws->bytes);
	if (wi.numa_node < 0)
		snprintf(node, sizeof(node), "-");
	else
		snprintf(node, sizeof(node), "%d", wi.numa_node);
	printf("%7d %-15s %4d %8llu %4u %4s %10s %6s %4u %s\n", pid, name, fd,
	       (unsigned long long)st.st_ino, wi.pxm, node, len, align,
	       wi.num_bad_pages, revoked ? "revoked" : "live");
}

static void windows_scan_pid(struct windows_scan *ws, int pid)
{
	char dir[64], comm[64] = "?";
	struct dirent **fds;
	int n, i;

	snprintf(dir, sizeof(dir), "/proc/%d/comm", pid);
	read_line(dir, comm, sizeof(comm));

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	n = scandir(dir, &fds, numeric_dirent, numeric_cmp);
	if (n < 0) {
		if (errno == EACCES || errno == EPERM)
			ws->denied++;
		return;		/* or the process is gone */
	}
	for (i = 0; i < n; i++) {
		windows_print_fd(ws, pid, comm, atoi(fds[i]->d_name));
		free(fds[i]);
	}
	free(fds);
}

static int cmd_windows(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct windows_scan ws = { };
	struct json j = { .f = stdout };
	struct dirent **pids;
	char total[32];
	int n, i, c, self = (int)getpid();

	while ((c = getopt_long(argc, argv, "+bjh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			ws.bytes = true;
			break;
		case 'j':
			ws.json = &j;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			return usage_hint();
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument", argv[optind]);

	n = scandir("/proc", &pids, numeric_dirent, numeric_cmp);
	if (n < 0) {
		err("cannot read /proc: %s", strerror(errno));
		return EXIT_FAIL;
	}
	if (ws.json) {
		json_open(&j, NULL, '{', false);
		json_open(&j, "windows", '[', false);
	}
	for (i = 0; i < n; i++) {
		int pid = atoi(pids[i]->d_name);

		if (pid != self)
			windows_scan_pid(&ws, pid);
		free(pids[i]);
	}
	free(pids);

	if (ws.json) {
		json_close(&j, ']');
		json_u64(&j, "num_windows", ws.nseen);
		json_u64(&j, "total_length", ws.total);
		json_u64(&j, "num_denied", ws.denied);
		json_close(&j, '}');
	} else if (!ws.files) {
		printf("no EGM windows open\n");
	} else {
		fmt_bytes(total, sizeof(total), ws.total, ws.bytes);
		printf("%u window%s, %s, in %u open file%s\n", ws.nseen,
		       ws.nseen == 1 ? "" : "s", total, ws.files,
		       ws.files == 1 ? "" : "s");
	}
	free(ws.seen);
	if (ws.denied) {
		err("%u process%s could not be inspected: permission denied (run as root)",
		    ws.denied, ws.denied == 1 ? "" : "es");
		return EXIT_FAIL;
	}
	return 0;
}

/* Replace every "{}" in @arg by @fdstr; returns a new string or NULL. */
static char *subst_fd(const char *arg, const char *fdstr)
{
	size_t n = 0, flen = strlen(fdstr);
	const char *p;
	char *out, *o;

	for (p = arg; (p = strstr(p, "{}")); p += 2)
		n++;
	out = malloc(strlen(arg) + n * flen + 1);
	if (!out)
		return NULL;
	for (o = out, p = arg; *p;) {
		if (p[0] == '{' && p[1] == '}') {
			memcpy(o, fdstr, flen);
			o += flen;
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static int run_with_fd(int wfd, char **cmd)
{
	char fdstr[16], **args;
	int flags, i, n;

	n = 0;
	while (cmd[n])
		n++;
	args = calloc(n + 1, sizeof(*args));
	if (!args) {
		err("out of memory");
		return EXIT_FAIL;
	}
	snprintf(fdstr, sizeof(fdstr), "%d", wfd);
	args[0] = cmd[0];
	for (i = 1; i < n; i++) {
		args[i] = subst_fd(cmd[i], fdstr);
		if (!args[i]) {
			err("out of memory");
			return EXIT_FAIL;
		}
	}

	/* The window fd comes O_CLOEXEC; CMD is meant to inherit it. */
	flags = fcntl(wfd, F_GETFD);
	if (flags < 0 || fcntl(wfd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
		err("cannot clear close-on-exec on fd %d: %s", wfd,
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (setenv("EGM_FD", fdstr, 1)) {
		err("cannot set EGM_FD: %s", strerror(errno));
		return EXIT_FAIL;
	}

	execvp(args[0], args);
	err("cannot run %s: %s", args[0], strerror(errno));
	return errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
}

/* Hold the window until a signal or the end of stdin. */
static int hold(void)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	char buf[256];
	sigset_t set;
	int sfd, ret = 0;
	nfds_t nfds = 2;
	ssize_t len;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		err("sigprocmask: %s", strerror(errno));
		return EXIT_FAIL;
	}
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		err("signalfd: %s", strerror(errno));
		return EXIT_FAIL;
	}

	err("holding the window; Ctrl-C or end of stdin releases it");
	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = STDIN_FILENO;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			err("poll: %s", strerror(errno));
			ret = EXIT_FAIL;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				err("%s, releasing the window",
				    strsignal(si.ssi_signo));
			break;
		}
		if (nfds > 1 && (pfd[1].revents & POLLNVAL)) {
			/* No stdin at all: wait for a signal only. */
			nfds = 1;
			continue;
		}
		if (nfds > 1 && pfd[1].revents) {
			len = read(STDIN_FILENO, buf, sizeof(buf));
			if (len < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (len <= 0) {
				err("end of stdin, releasing the window");
				break;
			}
		}
	}
	close(sfd);
	return ret;
}

/*
 * alloc --check: map the window, check that it reads as zero, write a
 * pattern, read it back and zero it again. Holes are never touched: a
 * fault on one raises SIGBUS. Substituted bad pages are checked like the
 * rest of the window, since a spare page backs each. Any other SIGBUS (a page poisoned meanwhile,
 * the region removed) fails the check instead of killing the tool.
 */
enum check_pass {
	CHECK_ZERO,
	CHECK_WRITE,
	CHECK_READ,
	CHECK_CLEAR,
};

static const char * const check_pass_name[] = {
	[CHECK_ZERO] = "reads as zero",
	[CHECK_WRITE] = "write pattern",
	[CHECK_READ] = "read back",
	[CHECK_CLEAR] = "zero again",
};

struct check_ctx {
	unsigned char *mem;
	const struct egm_window_info *wi;
	const struct egm_bad_page *bad;
	__u64 seed;
	__u64 bytes;		/* bytes a pass covers: all but holes */
	__u64 mismatches;	/* 64-bit words that differ */
	__u64 first_off;	/* offset of the first one */
	__u64 first_got;
	__u64 first_want;
};

/*
 * Set by the SIGBUS handler, read after siglongjmp(): sigsetjmp() returning
 * again is a call the compiler cannot see through, so no stale copy of it
 * survives in a register.
 */
static sigjmp_buf check_jmp;
static void *check_fault;

static void check_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	check_fault = si->si_addr;
	siglongjmp(check_jmp, 1);
}

/* A different value in every word, and in every run. */
static inline __u64 check_pattern(__u64 off, __u64 seed)
{
	return (off * 0x9e3779b97f4a7c15ULL) ^ seed;
}

static void check_mismatch(struct check_ctx *c, __u64 off, __u64 got,
			   __u64 want)
{
	if (!c->mismatches++) {
		c->first_off = off;
		c->first_got = got;
		c->first_want = want;
	}
}

/* One pass over [start, end) of the window, both multiples of 8. */
static void check_range(struct check_ctx *c, enum check_pass pass,
			__u64 start, __u64 end)
{
	__u64 *p = (__u64 *)(c->mem + start);
	size_t i, j, n = (end - start) / sizeof(*p);
	__u64 acc;

	switch (pass) {
	case CHECK_ZERO:
		/* OR whole blocks (vectorizable); look closer if nonzero. */
		for (i = 0; i < n; i += 512) {
			size_t lim = n - i < 512 ? n - i : 512;

			acc = 0;
			for (j = 0; j < lim; j++)
				acc |= p[i + j];
			if (!acc)
				continue;
			for (j = 0; j < lim; j++)
				if (p[i + j])
					check_mismatch(c, start + (i + j) * 8,
						       p[i + j], 0);
		}
		break;
	case CHECK_WRITE:
		for (i = 0; i < n; i++)
			p[i] = check_pattern(start + i * 8, c->seed);
		break;
	case CHECK_READ:
		for (i = 0; i < n; i++) {
			__u64 want = check_pattern(start + i * 8, c->seed);

			if (p[i] != want)
				check_mismatch(c, start + i * 8, p[i], want);
		}
		break;
	case CHECK_CLEAR:
		memset(p, 0, end - start);
		break;
	}
}

/* Run @pass over every page of the window but the holes; bad is sorted. */
static void check_run(struct check_ctx *c, enum check_pass pass)
{
	__u64 pos = 0, len = c->wi->length, ps = c->wi->page_size, end;
	unsigned int i;

	for (i = 0; i <= c->wi->num_bad_pages; i++) {
		/* A substituted page is backed like any other: check it. */
		if (i < c->wi->num_bad_pages && !is_hole(&c->bad[i]))
			continue;
		end = i < c->wi->num_bad_pages ? c->bad[i].offset : len;
		if (end > len)
			end = len;
		if (end > pos)
			check_range(c, pass, pos, end);
		if (i < c->wi->num_bad_pages && end + ps > pos)
			pos = end + ps;
	}
	/* The compiler must not merge or drop passes over the mapping. */
	__asm__ __volatile__("" : : : "memory");
}

/* One pass with SIGBUS caught: 0, or -1 after a SIGBUS. */
static int check_run_safe(struct check_ctx *c, enum check_pass pass)
{
	if (sigsetjmp(check_jmp, 1))
		return -1;
	check_run(c, pass);
	return 0;
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Returns 0 if the window passed; reports to @out. */
static int check_window(int wfd, const struct egm_window_info *wi,
			const struct egm_bad_page *bad, FILE *out)
{
	struct sigaction sa = { }, old;
	struct check_ctx c = { .wi = wi, .bad = bad };
	char sz[32], rate[32];
	enum check_pass pass;
	struct timespec t0;
	unsigned int i, subst = 0;
	int ret = 0;
	double t;

	c.mem = mmap(NULL, wi->length, PROT_READ | PROT_WRITE, MAP_SHARED,
		     wfd, 0);
	if (c.mem == MAP_FAILED) {
		err("check: mmap of the window failed: %s%s", strerror(errno),
		    errno == ENODEV ? " (its region was removed)" : "");
		return -1;
	}
	c.bytes = wi->length;
	for (i = 0; i < wi->num_bad_pages; i++) {
		if (!is_hole(&bad[i]))
			subst++;
		else if (bad[i].offset < wi->length)
			c.bytes -= wi->page_size;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c.seed = ((__u64)t0.tv_nsec << 20) ^ (__u64)getpid() ^
		 0x65676d2d63686bULL;

	fprintf(out, "check: %s mapped at %p, %u substituted page%s checked, %u hole%s skipped\n",
		fmt_size(sz, sizeof(sz), wi->length), (void *)c.mem,
		subst, subst == 1 ? "" : "s", wi->num_bad_pages - subst,
		wi->num_bad_pages - subst == 1 ? "" : "s");
	fflush(out);

	sa.sa_sigaction = check_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);

	for (pass = CHECK_ZERO; pass <= CHECK_CLEAR; pass++) {
		c.mismatches = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (check_run_safe(&c, pass)) {
			err("check: %s: SIGBUS at offset 0x%llx",
			    check_pass_name[pass],
			    (unsigned long long)((unsigned char *)check_fault -
						 c.mem));
			err("check: was a page poisoned, or the region removed?");
			ret = -1;
			break;
		}
		t = elapsed(&t0);
		fmt_size(rate, sizeof(rate),
			 t > 0 ? (unsigned long long)(c.bytes / t) : 0);
		fprintf(out, "check: %-14s %-6s %8s in %6.2fs %9s/s\n",
			check_pass_name[pass], c.mismatches ? "FAILED" : "ok",
			fmt_size(sz, sizeof(sz), wi->length), t, rate);
		fflush(out);
		if (c.mismatches) {
			err("check: %s: %llu word%s differ, the first at 0x%llx",
			    check_pass_name[pass],
			    (unsigned long long)c.mismatches,
			    c.mismatches == 1 ? "" : "s",
			    (unsigned long long)c.first_off);
			err("check: read 0x%016llx there, expected 0x%016llx",
			    (unsigned long long)c.first_got,
			    (unsigned long long)c.first_want);
			ret = -1;
			break;
		}
	}
	sigaction(SIGBUS, &old, NULL);
	munmap(c.mem, wi->length);
	return ret;
}

struct alloc_req {
	unsigned int pxm;
	unsigned int flags;
	unsigned long long size;
	unsigned long long align;
};

/* ENOSPC: what the region has, and what would fit instead. */
static void too_large(const struct egm_region_info *r,
		      const struct alloc_req *req)
{
	bool clean = req->flags & EGM_ALLOC_NO_BAD_PAGES;
	char s[32], rs[32], f[32], big[32], good[32], al[32], most[32];
	unsigned long long limit, fit;

	fmt_size(s, sizeof(s), req->size);
	fmt_size(al, sizeof(al), req->align);
	err("cannot allocate %s on PXM %u%s: the window does not fit", s,
	    req->pxm, clean ? " without bad pages" : "");
	err("the region of PXM %u (%s) has %s free: its largest free extent is %s,",
	    r->pxm, fmt_size(rs, sizeof(rs), r->size),
	    fmt_size(f, sizeof(f), r->free),
	    fmt_size(big, sizeof(big), r->largest_free));
	err("and its largest free extent without bad pages %s",
	    fmt_size(good, sizeof(good), r->largest_free_good));

	limit = clean ? r->largest_free_good : r->largest_free;
	fit = req->align ? limit / req->align * req->align : limit;
	fmt_size(most, sizeof(most), fit);
	if (req->size > limit && clean && req->size <= r->largest_free) {
		err("ask for at most %s, or drop --no-bad-pages: a window that cannot",
		    most);
		err("avoid bad pages then gets a spare page in place of each");
	} else if (req->size > limit && r->free < r->size) {
		err("ask for at most %s, or release windows first ('egm windows' lists them)",
		    most);
	} else if (req->size > limit) {
		err("ask for at most %s", most);
	} else {
		err("an extent is large enough, but none has room for %s at a %s boundary",
		    s, al);
		if (!clean && !(req->flags & EGM_ALLOC_HOLES))
			err("or too few spare pages are left for its bad pages (try --holes)");
		err("try a smaller --align");
	}
}

static void alloc_err(int dev, int e, const struct alloc_req *req)
{
	const struct egm_region_info *r = NULL;
	struct egm_region_info *info = NULL;
	char s[32], a[32];
	unsigned int n = 0;

	fmt_size(s, sizeof(s), req->size);
	fmt_size(a, sizeof(a), req->align);
	/* Explain with the region as it is now. */
	if ((e == ENOSPC || e == ENODEV) && !query_regions(dev, &info, &n))
		r = find_region(info, n, req->pxm);

	switch (e) {
	case ENOSPC:
		if (r) {
			too_large(r, req);
			break;
		}
		err("EGM_ALLOC: %s: the region of PXM %u has no room for %s",
		    strerror(e), req->pxm, s);
		break;
	case ENODEV:
		if (info && !r)
			unknown_pxm(info, n, req->pxm);
		else
			err("EGM_ALLOC: %s: the region of PXM %u is being removed",
			    strerror(e), req->pxm);
		break;
	case EINVAL:
		err("EGM_ALLOC: %s: the kernel refused a window of %s aligned to %s on PXM %u",
		    strerror(e), s, a, req->pxm);
		err("the size must be a multiple of the alignment, and the alignment one of");
		err("the region's (ALIGN in 'egm list')");
		break;
	case EOPNOTSUPP:
		err("EGM_ALLOC: %s: this kernel's egm driver does not know %s%s%s",
		    strerror(e),
		    req->flags & EGM_ALLOC_NO_BAD_PAGES ? "--no-bad-pages" : "",
		    (req->flags & EGM_ALLOC_NO_BAD_PAGES) &&
		    (req->flags & EGM_ALLOC_HOLES) ? " or " : "",
		    req->flags & EGM_ALLOC_HOLES ? "--holes" : "");
		err("update the driver, or leave the option out");
		break;
	case EINTR:
		err("EGM_ALLOC: %s: interrupted while zeroing the window",
		    strerror(e));
		break;
	case EMFILE:
	case ENFILE:
		err("EGM_ALLOC: %s: no file descriptor left for the window",
		    strerror(e));
		break;
	default:
		err("EGM_ALLOC: %s", strerror(e));
	}
	free(info);
}

/*
 * Check the request against the region before asking the kernel, so that
 * the errors can say what the region has. Returns 0, or an exit code.
 */
static int alloc_prepare(int dev, struct alloc_req *req, bool align_given)
{
	const struct egm_region_info *r;
	struct egm_region_info *info;
	char s[32], a[32], aligns[128];
	unsigned int n;
	int ret = 0;

	if (query_regions(dev, &info, &n))
		return EXIT_FAIL;
	r = find_region(info, n, req->pxm);
	if (!r) {
		unknown_pxm(info, n, req->pxm);
		free(info);
		return EXIT_FAIL;
	}
	fmt_align(aligns, sizeof(aligns), r->align, false, true);
	fmt_size(s, sizeof(s), req->size);
	if (align_given && !(r->align & req->align)) {
		err("the region of PXM %u does not support a %s alignment", req->pxm,
		    fmt_size(a, sizeof(a), req->align));
		err("it supports %s (ALIGN in 'egm list')", aligns);
		ret = EXIT_FAIL;
	} else if (!align_given) {
		req->align = default_align(r);
		if (req->align && req->size % req->align) {
			fmt_size(a, sizeof(a), req->align);
			err("the size (%s) is not a multiple of the default alignment of PXM %u,",
			    s, req->pxm);
			err("%s; give a multiple of it, or an --align that divides the size:", a);
			err("the region supports %s", aligns);
			ret = EXIT_USAGE;
		}
	}
	free(info);
	return ret;
}

static int cmd_alloc(int argc, char **argv)
{
	enum { OPT_NO_BAD_PAGES = 256, OPT_HOLES, OPT_ASYNC };
	static const struct option opts[] = {
		{ "pxm", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "align", required_argument, NULL, 'a' },
		{ "no-bad-pages", no_argument, NULL, OPT_NO_BAD_PAGES },
		{ "holes", no_argument, NULL, OPT_HOLES },
		{ "async", no_argument, NULL, OPT_ASYNC },
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	bool have_pxm = false, have_size = false, check = false;
	struct egm_alloc a = { .size = sizeof(a) };
	struct alloc_req req = { };
	struct egm_window_info wi;
	struct egm_bad_page *bad;
	char **cmd = NULL, path[64];
	int i, c, fd, ret;

	/* Everything after --exec belongs to the command, options included. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--exec") || !strcmp(argv[i], "-e")) {
			if (i + 1 >= argc)
				return usage_err("--exec needs a command", NULL);
			cmd = &argv[i + 1];
			argv[i] = NULL;
			argc = i;
			break;
		}
	}

	while ((c = getopt_long(argc, argv, "+p:s:a:ch", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_u32(optarg, &req.pxm)) {
				err("bad PXM '%s': give a proximity domain (PXM in 'egm list')",
				    optarg);
				return usage_hint();
			}
			have_pxm = true;
			break;
		case 's':
			if (parse_size_opt("size", optarg, &req.size))
				return usage_hint();
			have_size = true;
			break;
		case 'a':
			if (parse_size_opt("alignment", optarg, &req.align))
				return usage_hint();
			if (req.align & (req.align - 1))
				return usage_err("bad alignment (not a power of two)",
						 optarg);
			break;
		case OPT_NO_BAD_PAGES:
			req.flags |= EGM_ALLOC_NO_BAD_PAGES;
			break;
		case OPT_HOLES:
			req.flags |= EGM_ALLOC_HOLES;
			break;
		case OPT_ASYNC:
			req.flags |= EGM_ALLOC_ASYNC;
			break;
		case 'c':
			check = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			return usage_hint();
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument", argv[optind]);
	if (!have_pxm || !have_size)
		return usage_err("'alloc' needs --pxm and --size", NULL);
	if (req.align && req.size % req.align) {
		char s[32], al[32];

		err("the size (%s) is not a multiple of the alignment (%s)",
		    fmt_size(s, sizeof(s), req.size),
		    fmt_size(al, sizeof(al), req.align));
		return usage_hint();
	}

	fd = open_egm();
	if (fd < 0)
		return EXIT_FAIL;
	ret = alloc_prepare(fd, &req, req.align != 0);
	if (ret) {
		close(fd);
		return ret;
	}
	a.flags = req.flags;
	a.pxm = req.pxm;
	a.length = req.size;
	a.alignment = req.align;
	if (ioctl(fd, EGM_ALLOC, &a)) {
		alloc_err(fd, errno, &req);
		close(fd);
		return EXIT_FAIL;
	}
	close(fd);

	if (cmd && !check)
		return run_with_fd(a.out_fd, cmd);

	if (window_info(a.out_fd, &wi, &bad)) {
		err("EGM_WINDOW_INFO failed: %s", strerror(errno));
		close(a.out_fd);
		return EXIT_FAIL;
	}
	if (!cmd) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(),
			 a.out_fd);
		print_window(path, &wi, bad, false);
	}
	/* With --exec, stdout is CMD's: report the check on stderr. */
	if (check && check_window(a.out_fd, &wi, bad, cmd ? stderr : stdout)) {
		err("check failed, releasing the window");
		free(bad);
		close(a.out_fd);
		return EXIT_FAIL;
	}
	free(bad);

	if (cmd)
		return run_with_fd(a.out_fd, cmd);
	ret = hold();
	close(a.out_fd);
	return ret;
}

/* The names above are indexed by bit number. */
static_assert(EGM_ALLOC_NO_BAD_PAGES == 1 << 0 && EGM_ALLOC_HOLES == 1 << 1 &&
	      EGM_ALLOC_ASYNC == 1 << 2, "alloc_flag_names");
static_assert(EGM_BAD_PAGE_RETIRED == 1 << 0 &&
	      EGM_BAD_PAGE_POISONED == 1 << 1 &&
	      EGM_BAD_PAGE_SUBSTITUTED == 1 << 2, "bad_page_flag_names");

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "list", cmd_list },
	{ "alloc", cmd_alloc },
	{ "info", cmd_info },
	{ "windows", cmd_windows },
};

static int run_command(int argc, char **argv)
{
	static char prog[32];
	const char *cmd;
	unsigned int i;

	if (argc < 2) {
		err("missing command: give one of " COMMANDS);
		return usage_hint();
	}
	cmd = argv[1];
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		print_usage(stdout);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(cmd, commands[i].name))
			continue;
		/* getopt_long() names the command in its messages. */
		snprintf(prog, sizeof(prog), "egm %s", cmd);
		argv[1] = prog;
		return commands[i].fn(argc - 1, argv + 1);
	}
	err("unknown command '%s': give one of " COMMANDS, cmd);
	return usage_hint();
}

int main(int argc, char **argv)
{
	int ret = run_command(argc, argv);

	/* A full disk or a closed pipe must not look like success. */
	if (fflush(stdout) || ferror(stdout)) {
		err("cannot write the output: %s", strerror(errno));
		if (!ret)
			ret = EXIT_FAIL;
	}
	return ret;
}
