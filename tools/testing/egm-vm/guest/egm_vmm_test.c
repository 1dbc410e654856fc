// SPDX-License-Identifier: GPL-2.0
/*
 * Unmodified QEMU on egm windows, inside the bench machine.
 *
 * Three nested VMs run at once, each started through the CLI the way an
 * operator would:
 *
 *	egm alloc --pxm P --size S --exec chroot ROOT qemu-system-x86_64 ...
 *	    -object memory-backend-file,id=m0,mem-path=/proc/self/fd/{},...
 *	    -numa node,memdev=m0 -kernel egm-payload.elf -append vm=N ...
 *
 *   vm1  QEMU 11, PXM 0, 1 GiB (the clean first GiB of region 0), an edu
 *        through the vfio-pci cdev and -object iommufd;
 *   vm2  QEMU 7.2, PXM 1, 512 MiB, an edu through the VFIO type1 container;
 *   vm3  QEMU 11, PXM 0, 384 MiB, carved after vm1 so that it cannot avoid
 *        the retired pages of region 0's upper half, with prealloc=on and
 *        an edu through iommufd.
 *
 * The payload (../payload) signs every page of its RAM and runs an edu DMA
 * round trip. While each QEMU runs, the test reopens its window through
 * /proc/PID/fd/N, so that the window outlives QEMU; afterwards it reads the
 * windows through their own mappings: every VM's signature must be in its
 * own window, at the right offsets, and in no other, and the DMA must have
 * landed in it. Then the windows must go back to their regions and read as
 * zero when carved again.
 *
 *	egm_vmm_test            TAP, for make check
 *	egm_vmm_test --demo     the same, told as a story with a table
 *	egm_vmm_test --linux    boot the bench's own kernel on a window (demo)
 *
 * The QEMUs come from the 9p shares "qemu72" and "qemu11" (qemu-rootfs.sh
 * on the host), mounted under /mnt/egm-qemu* with /dev, /proc, /sys, /tmp
 * and /egm bound in.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/egm.h>

#include "kselftest.h"
#include "edu.h"
#include "platform.h"
#include "egm_payload.h"

/*
 * The nested VMs are x86 (qemu-system-x86_64, the x86 payload, whose 4 KiB
 * pages PAGE counts): the bench builds this test on x86_64 only.
 */
#ifndef __x86_64__
#error "egm_vmm_test runs x86 VMs: build it for x86_64 only"
#endif

#define SZ_1M		((uint64_t)1 << 20)
#define SZ_1G		((uint64_t)1 << 30)
#define VMM_DIR		"/tmp/egm-vmm"
#define VMM_SHARE	"/egm/vmm"
#define PAYLOAD		VMM_SHARE "/egm-payload.elf"
#define MAX_BAD		64
#define MAX_REGIONS	16
#define NR_VMS		3
#define PAGE		4096UL
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
/* Nested TCG: a payload VM takes about a minute, a Linux guest three. */
#define VM_TIMEOUT_S	300
#define LINUX_TIMEOUT_S	420

enum dev_path { DEV_NONE, DEV_IOMMUFD, DEV_TYPE1 };

struct rootfs {
	const char *tag;	/* 9p mount tag */
	const char *dir;	/* where the guest mounts it */
	const char *label;
	char version[128];
	bool ready;
};

static struct rootfs q72 = { "qemu72", "/mnt/egm-qemu72", "QEMU 7.2" };
static struct rootfs q11 = { "qemu11", "/mnt/egm-qemu11", "QEMU 11" };

struct vm {
	int id;
	struct rootfs *qemu;
	uint32_t pxm;
	uint64_t size;
	bool prealloc;
	enum dev_path dev;
	int edu;		/* index into edu_bdf[] */
	bool want_bad;		/* the window must hold a retired page */
	/* What happened. */
	pid_t pid;
	int status;		/* waitpid() status */
	bool exited;
	int wfd;		/* our reopen of the window, or -1 */
	char wpath[64];		/* /proc/PID/fd/N it was reopened through */
	struct egm_window_info wi;
	struct egm_bad_page bad[MAX_BAD];
	double t_start, t_window, t_exit;
	char con[256];		/* the payload's report line */
	unsigned long pages;	/* what it says it signed */
	bool edu_ok;
	/* What its window holds. */
	unsigned long own, misplaced, foreign, holes, unlisted_holes;
	bool dma_ok;
	char dma_why[128];
};

static struct vm vms[NR_VMS] = {
	{ .id = 1, .qemu = &q11, .pxm = 0, .size = SZ_1G, .dev = DEV_IOMMUFD, .edu = 0 },
	{ .id = 2, .qemu = &q72, .pxm = 1, .size = 512 * SZ_1M, .dev = DEV_TYPE1, .edu = 1 },
	{ .id = 3, .qemu = &q11, .pxm = 0, .size = 384 * SZ_1M, .dev = DEV_IOMMUFD, .edu = 2,
	  .prealloc = true, .want_bad = true },
};

static char edu_bdf[NR_VMS][16];
static int nr_edu;
static bool demo;
static double t0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9 - t0;
}

/*
 * A finding: a TAP result named @name, with what was seen as a comment
 * before it; in the demo, a line of the story.
 */
static __printf(3, 4) void report(bool ok, const char *name, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (demo) {
		printf("  [%s] %s\n", ok ? " ok " : "FAIL", msg);
		if (ok)
			ksft_inc_pass_cnt();
		else
			ksft_inc_fail_cnt();
	} else {
		printf("# %s\n", msg);
		ksft_test_result(ok, "%s\n", name);
	}
}

static __printf(1, 2) void note(const char *fmt, ...)
{
	va_list ap;

	fputs(demo ? "  " : "# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static const char *human(uint64_t v, char *buf, size_t len)
{
	if (v && !(v % SZ_1G))
		snprintf(buf, len, "%" PRIu64 "G", v / SZ_1G);
	else if (v && !(v % SZ_1M))
		snprintf(buf, len, "%" PRIu64 "M", v / SZ_1M);
	else
		snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

/* Show the last @lines lines of a log file as notes. */
static void show_tail(const char *path, int lines)
{
	char ring[16][256];
	int n = 0, i;
	FILE *f;

	if (lines > 16)
		lines = 16;
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(ring[n % lines], sizeof(ring[0]), f)) {
		ring[n % lines][strcspn(ring[n % lines], "\r\n")] = 0;
		n++;
	}
	fclose(f);
	for (i = n > lines ? n - lines : 0; i < n; i++)
		note("  | %s", ring[i % lines]);
}

/* --- /dev/egm --- */

static int egm_regions(struct egm_region_info *r, uint32_t *n)
{
	struct egm_query q = {
		.size = sizeof(q),
		.num_regions = MAX_REGIONS,
		.entry_size = sizeof(*r),
		.regions_uptr = (uintptr_t)r,
	};
	int fd, ret;

	*n = 0;
	fd = open("/dev/egm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, EGM_QUERY, &q) ? -errno : 0;
	close(fd);
	*n = q.num_regions;
	return ret;
}

static uint64_t region_free(uint32_t pxm)
{
	struct egm_region_info r[MAX_REGIONS];
	uint32_t i, n;

	if (egm_regions(r, &n))
		return ~0ULL;
	for (i = 0; i < n; i++)
		if (r[i].pxm == pxm)
			return r[i].free;
	return ~0ULL;
}

static int window_info(int wfd, struct egm_window_info *wi, struct egm_bad_page *bad)
{
	memset(wi, 0, sizeof(*wi));
	wi->size = sizeof(*wi);
	wi->num_bad_pages = MAX_BAD;
	wi->bad_pages_uptr = (uintptr_t)bad;
	return ioctl(wfd, EGM_WINDOW_INFO, wi) ? -errno : 0;
}

static int egm_carve(uint32_t pxm, uint64_t len)
{
	struct egm_alloc a = {
		.size = sizeof(a), .pxm = pxm, .length = len, .out_fd = -1,
	};
	int fd, ret;

	fd = open("/dev/egm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, EGM_ALLOC, &a) ? -errno : a.out_fd;
	close(fd);
	return ret;
}

/* Do @a and @b refer to the same file? */
static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/*
 * Reopen the window a process holds, through /proc/PID/fd/N. Returns the
 * new fd, or -1 if the process holds none (yet). A child that has not
 * exec'd yet still holds our own reopens (O_CLOEXEC): @held lists them,
 * -1 terminated, so that they are skipped.
 */
static int reopen_window(pid_t pid, const int *held, char *path, size_t len)
{
	char dir[64], link[256], p[300];
	struct egm_window_info wi;
	struct egm_bad_page bad[MAX_BAD];
	struct dirent *e;
	int fd = -1, i;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		n = readlink(p, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		if (!strstr(link, "egm-window"))
			continue;
		fd = open(p, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		for (i = 0; held && held[i] >= 0; i++)
			if (same_file(fd, held[i]))
				break;
		if ((held && held[i] >= 0) || window_info(fd, &wi, bad)) {
			close(fd);
			fd = -1;
			continue;
		}
		snprintf(path, len, "%s", p);
		break;
	}
	closedir(d);
	return fd;
}

/* --- the QEMU rootfses --- */

static int bind_in(const char *root, const char *what)
{
	char to[256];

	snprintf(to, sizeof(to), "%s%s", root, what);
	if (mount(what, to, NULL, MS_BIND | MS_REC, NULL)) {
		note("bind %s into %s: %s", what, root, strerror(errno));
		return -1;
	}
	return 0;
}

/* The first line of a command's output, or "" if it fails. */
static void first_line(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");

	out[0] = 0;
	if (!f)
		return;
	if (fgets(out, len, f))
		out[strcspn(out, "\n")] = 0;
	if (pclose(f))
		out[0] = 0;
}

static void rootfs_setup(struct rootfs *r)
{
	static const char *const binds[] = { "/dev", "/proc", "/sys", "/tmp", "/egm" };
	char path[256], cmd[300];
	unsigned int i;

	mkdir("/mnt", 0755);
	mkdir(r->dir, 0755);
	snprintf(path, sizeof(path), "%s/usr/bin/qemu-system-x86_64", r->dir);
	if (access(path, X_OK)) {
		if (mount(r->tag, r->dir, "9p", MS_RDONLY,
			  "trans=virtio,version=9p2000.L,msize=262144,cache=loose")) {
			note("%s: cannot mount the 9p share '%s' (%s): does the host have its rootfs (qemu-rootfs.sh)?",
			     r->label, r->tag,
			     strerror(errno));
			return;
		}
		for (i = 0; i < ARRAY_SIZE(binds); i++)
			if (bind_in(r->dir, binds[i]))
				return;
	}
	snprintf(cmd, sizeof(cmd), "chroot %s /usr/bin/qemu-system-x86_64 --version 2>&1",
		 r->dir);
	first_line(cmd, r->version, sizeof(r->version));
	r->ready = !strncmp(r->version, "QEMU emulator version", 21);
	if (!r->ready)
		note("%s: 'qemu-system-x86_64 --version' in %s failed: %s", r->label,
		     r->dir, r->version);
}

/* --- launching --- */

struct argv {
	char *v[64];
	int n;
};

static __printf(2, 3) void arg(struct argv *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n >= (int)ARRAY_SIZE(a->v) - 1)
		return;
	va_start(ap, fmt);
	if (vasprintf(&a->v[a->n], fmt, ap) >= 0)
		a->n++;
	va_end(ap);
	a->v[a->n] = NULL;
}

/* egm alloc --pxm P --size S --exec chroot ROOT qemu-system-x86_64 ... */
static void qemu_prefix(struct argv *a, struct rootfs *q, uint32_t pxm, uint64_t size)
{
	char s[32];

	arg(a, "egm");
	arg(a, "alloc");
	arg(a, "--pxm");
	arg(a, "%u", pxm);
	arg(a, "--size");
	arg(a, "%s", human(size, s, sizeof(s)));
	arg(a, "--exec");
	arg(a, "chroot");
	arg(a, "%s", q->dir);
	arg(a, "/usr/bin/qemu-system-x86_64");
	arg(a, "-machine");
	arg(a, "pc");
	arg(a, "-accel");
	arg(a, "tcg,tb-size=64");
	arg(a, "-smp");
	arg(a, "1");
	arg(a, "-m");
	arg(a, "%s", s);
	arg(a, "-nodefaults");
	arg(a, "-no-user-config");
	arg(a, "-display");
	arg(a, "none");
	arg(a, "-no-reboot");
}

static void vm_args(struct vm *vm, struct argv *a)
{
	char s[32];

	qemu_prefix(a, vm->qemu, vm->pxm, vm->size);
	arg(a, "-object");
	arg(a, "memory-backend-file,id=m0,mem-path=/proc/self/fd/{},size=%s,share=on%s",
	    human(vm->size, s, sizeof(s)), vm->prealloc ? ",prealloc=on" : "");
	arg(a, "-numa");
	arg(a, "node,memdev=m0");
	arg(a, "-kernel");
	arg(a, PAYLOAD);
	arg(a, "-append");
	arg(a, "vm=%d", vm->id);
	arg(a, "-debugcon");
	arg(a, "file:" VMM_DIR "/vm%d.con", vm->id);
	arg(a, "-device");
	arg(a, "isa-debug-exit,iobase=0x%x,iosize=4", EGM_PAYLOAD_EXIT_PORT);
	switch (vm->dev) {
	case DEV_IOMMUFD:
		arg(a, "-object");
		arg(a, "iommufd,id=iommufd0");
		arg(a, "-device");
		arg(a, "vfio-pci,host=%s,iommufd=iommufd0", edu_bdf[vm->edu]);
		break;
	case DEV_TYPE1:
		arg(a, "-device");
		arg(a, "vfio-pci,host=%s", edu_bdf[vm->edu]);
		break;
	case DEV_NONE:
		break;
	}
}

static void print_cmd(const struct argv *a)
{
	char line[2048];
	size_t len = 0;
	int i;

	for (i = 0; i < a->n && len < sizeof(line) - 1; i++)
		len += snprintf(line + len, sizeof(line) - len, "%s%s", i ? " " : "", a->v[i]);
	note("$ %s", line);
}

/* Start @a with its output in @log; returns the pid. */
static pid_t spawn(const struct argv *a, const char *log)
{
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	setpgid(0, 0);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	execvp(a->v[0], a->v);
	fprintf(stderr, "cannot run %s: %s\n", a->v[0], strerror(errno));
	_exit(127);
}

static const char *dev_label(const struct vm *vm)
{
	switch (vm->dev) {
	case DEV_IOMMUFD:
		return "vfio cdev + iommufd";
	case DEV_TYPE1:
		return "vfio type1 container";
	default:
		return "none";
	}
}

static void read_con(struct vm *vm)
{
	char path[64], line[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), VMM_DIR "/vm%d.con", vm->id);
	vm->con[0] = 0;
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "egm-payload:", 12)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(vm->con, sizeof(vm->con), "%s", line);
			break;
		}
	}
	fclose(f);
	p = strstr(vm->con, " pages=");
	vm->pages = p ? strtoul(p + 7, NULL, 10) : 0;
	vm->edu_ok = strstr(vm->con, " edu=ok");
}

static bool vm_ran(const struct vm *vm)
{
	return vm->exited && WIFEXITED(vm->status) &&
	       WEXITSTATUS(vm->status) == EGM_PAYLOAD_STATUS_OK;
}

/* Is @pid running QEMU, and not a zombie? */
static bool is_qemu(pid_t pid)
{
	char path[64], stat[128] = "", *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return false;
	stat[n] = 0;
	/* "PID (COMM) STATE ..." */
	p = strrchr(stat, ')');
	return strstr(stat, "(qemu-system") && p && p[1] == ' ' && p[2] != 'Z';
}

/*
 * Start the VMs and wait for them. vm3 is started once vm1 holds its
 * window, so that first fit puts it behind vm1, on the retired pages.
 * Returns the number of VMs seen running QEMU at the same moment.
 */
static int run_vms(void)
{
	int i, running, together = 0, left = NR_VMS;
	bool started[NR_VMS] = { false };
	struct argv a[NR_VMS];
	char log[64];

	memset(a, 0, sizeof(a));
	for (i = 0; i < NR_VMS; i++)
		vm_args(&vms[i], &a[i]);

	while (left) {
		for (i = 0; i < NR_VMS; i++) {
			struct vm *vm = &vms[i];

			if (started[i] || (vm->id == 3 && vms[0].wfd < 0 && !vms[0].exited))
				continue;
			snprintf(log, sizeof(log), VMM_DIR "/vm%d.log", vm->id);
			if (demo)
				note("vm%d: %s on PXM %u, %" PRIu64 "M%s, edu %s through the %s",
				     vm->id, vm->qemu->label, vm->pxm, vm->size / SZ_1M,
				     vm->prealloc ? ", prealloc=on" : "", edu_bdf[vm->edu],
				     dev_label(vm));
			print_cmd(&a[i]);
			vm->t_start = now();
			vm->pid = spawn(&a[i], log);
			started[i] = true;
		}
		running = 0;
		for (i = 0; i < NR_VMS; i++) {
			struct vm *vm = &vms[i];

			if (!started[i] || vm->exited)
				continue;
			if (vm->wfd < 0) {
				int held[NR_VMS + 1], j, k = 0;

				for (j = 0; j < NR_VMS; j++)
					if (vms[j].wfd >= 0)
						held[k++] = vms[j].wfd;
				held[k] = -1;
				vm->wfd = reopen_window(vm->pid, held, vm->wpath,
							sizeof(vm->wpath));
				if (vm->wfd >= 0) {
					vm->t_window = now();
					window_info(vm->wfd, &vm->wi, vm->bad);
				}
			}
			if (is_qemu(vm->pid))
				running++;
			if (waitpid(vm->pid, &vm->status, WNOHANG) == vm->pid) {
				vm->exited = true;
				vm->t_exit = now();
				left--;
			} else if (now() - vm->t_start > VM_TIMEOUT_S) {
				note("vm%d: still running after %ds: killing it", vm->id,
				     VM_TIMEOUT_S);
				kill(-vm->pid, SIGKILL);
			}
		}
		if (running > together)
			together = running;
		usleep(5000);
	}
	return together;
}

/* --- reading the windows --- */

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Copy @len bytes from a window mapping; -1 if the page is not mapped. */
static int peek(void *dst, const volatile void *src, size_t len)
{
	if (sigsetjmp(bus_jmp, 0)) {
		bus_armed = 0;
		return -1;
	}
	bus_armed = 1;
	memcpy(dst, (const void *)src, len);
	bus_armed = 0;
	return 0;
}

/*
 * A bad page that a spare page backs reads like any other
 * (EGM_BAD_PAGE_SUBSTITUTED in a uapi that has it); any other bad page is
 * a hole that is never mapped.
 */
#define BAD_PAGE_SUBSTITUTED	(1 << 2)

/* Is @off in a hole of the window, as EGM_WINDOW_INFO lists them? */
static bool is_hole(const struct egm_window_info *wi, const struct egm_bad_page *bad,
		    uint64_t off)
{
	uint32_t i;

	for (i = 0; i < wi->num_bad_pages && i < MAX_BAD; i++)
		if (off >= bad[i].offset && off < bad[i].offset + wi->page_size)
			return !(bad[i].flags & BAD_PAGE_SUBSTITUTED);
	return false;
}

static unsigned int nr_substituted(const struct vm *vm)
{
	unsigned int i, n = 0;

	for (i = 0; i < vm->wi.num_bad_pages && i < MAX_BAD; i++)
		n += !!(vm->bad[i].flags & BAD_PAGE_SUBSTITUTED);
	return n;
}

static void check_dma(struct vm *vm, const uint8_t *w)
{
	uint8_t src[EGM_PAYLOAD_DMA_LEN], dst[PAGE];
	const struct egm_sig *h = (const void *)src;
	unsigned int i;

	if (peek(src, w + EGM_PAYLOAD_DMA_SRC, sizeof(src)) ||
	    peek(dst, w + EGM_PAYLOAD_DMA_DST, sizeof(dst))) {
		snprintf(vm->dma_why, sizeof(vm->dma_why), "the DMA pages are not mapped");
		return;
	}
	if (h->magic != EGM_DMA_MAGIC || h->vm != (uint64_t)vm->id ||
	    h->gpa != EGM_PAYLOAD_DMA_SRC ||
	    h->check != egm_sig_check(EGM_DMA_MAGIC, vm->id, EGM_PAYLOAD_DMA_SRC)) {
		snprintf(vm->dma_why, sizeof(vm->dma_why),
			 "no DMA source block of vm%d at offset %#x", vm->id,
			 EGM_PAYLOAD_DMA_SRC);
		return;
	}
	for (i = sizeof(*h); i < EGM_PAYLOAD_DMA_LEN; i++) {
		if (src[i] != egm_dma_byte(vm->id, i)) {
			snprintf(vm->dma_why, sizeof(vm->dma_why),
				 "DMA source byte %u is %#x", i, src[i]);
			return;
		}
	}
	if (memcmp(src, dst, EGM_PAYLOAD_DMA_LEN)) {
		snprintf(vm->dma_why, sizeof(vm->dma_why),
			 "offset %#x does not hold the %u bytes edu copied from %#x",
			 EGM_PAYLOAD_DMA_DST, EGM_PAYLOAD_DMA_LEN, EGM_PAYLOAD_DMA_SRC);
		return;
	}
	for (i = EGM_PAYLOAD_DMA_LEN; i < PAGE; i++) {
		if (dst[i]) {
			snprintf(vm->dma_why, sizeof(vm->dma_why),
				 "byte %u of the DMA target page is %#x, beyond the transfer",
				 i, dst[i]);
			return;
		}
	}
	vm->dma_ok = true;
}

/* Classify every page of @vm's window by the signature at its start. */
static void scan_window(struct vm *vm)
{
	struct egm_sig s;
	uint64_t off;
	uint8_t *w;

	w = mmap(NULL, vm->wi.length, PROT_READ, MAP_SHARED, vm->wfd, 0);
	if (w == MAP_FAILED) {
		note("vm%d: mmap of %s: %s", vm->id, vm->wpath, strerror(errno));
		return;
	}
	for (off = 0; off < vm->wi.length; off += PAGE) {
		if (is_hole(&vm->wi, vm->bad, off)) {
			vm->holes++;
			continue;
		}
		if (peek(&s, w + off, sizeof(s))) {
			if (!vm->unlisted_holes)
				note("vm%d: offset %#" PRIx64 " is not mapped but not listed as a hole",
				     vm->id, off);
			vm->unlisted_holes++;
			continue;
		}
		if (s.magic != EGM_SIG_MAGIC)
			continue;
		if (s.vm != (uint64_t)vm->id) {
			if (!vm->foreign)
				note("vm%d: offset %#" PRIx64 " of its window holds vm%" PRIu64
				     "'s signature", vm->id, off, s.vm);
			vm->foreign++;
		} else if (s.gpa != off || s.check != egm_sig_check(s.magic, s.vm, s.gpa)) {
			if (!vm->misplaced)
				note("vm%d: offset %#" PRIx64 " holds its signature for %#" PRIx64,
				     vm->id, off, s.gpa);
			vm->misplaced++;
		} else {
			vm->own++;
		}
	}
	if (vm->dev != DEV_NONE)
		check_dma(vm, w);
	munmap(w, vm->wi.length);
}

/*
 * Offset of the first nonzero byte of a window, -1 if none, -2 if it
 * cannot be read; its holes are skipped.
 */
static int64_t first_nonzero(int wfd, const struct egm_window_info *wi,
			     const struct egm_bad_page *bad)
{
	static uint64_t buf[PAGE / 8];
	int64_t ret = -1;
	uint64_t off;
	uint8_t *w;
	unsigned int i;

	w = mmap(NULL, wi->length, PROT_READ, MAP_SHARED, wfd, 0);
	if (w == MAP_FAILED)
		return -2;
	for (off = 0; off < wi->length && ret < 0; off += PAGE) {
		if (is_hole(wi, bad, off))
			continue;
		if (peek(buf, w + off, PAGE)) {
			ret = -2;
			break;
		}
		for (i = 0; i < PAGE / 8; i++) {
			if (buf[i]) {
				ret = off + i * 8;
				break;
			}
		}
	}
	munmap(w, wi->length);
	return ret;
}

/* Wait (a little) until the regions' free counts are back to @want. */
static bool free_back(const uint32_t *pxm, const uint64_t *want, int n, uint64_t *got)
{
	double until = now() + 10;
	bool ok;
	int i;

	do {
		ok = true;
		for (i = 0; i < n; i++) {
			got[i] = region_free(pxm[i]);
			ok &= got[i] == want[i];
		}
		if (ok)
			return true;
		usleep(100 * 1000);
	} while (now() < until);
	return false;
}

/*
 * Carve the same windows again, in the same order, so that first fit puts
 * them where the VMs' windows were: they must read as zero.
 */
static bool recarve_zero(void)
{
	struct egm_bad_page bad[MAX_BAD];
	struct egm_window_info wi;
	int order[NR_VMS] = { 0, 2, 1 };
	int fds[NR_VMS], i, j;
	bool ok = true;

	for (j = 0; j < NR_VMS; j++) {
		struct vm *vm = &vms[order[j]];
		int64_t nz;

		i = order[j];
		fds[i] = egm_carve(vm->pxm, vm->size);
		if (fds[i] < 0) {
			note("carving %" PRIu64 "M on PXM %u again: %s", vm->size / SZ_1M,
			     vm->pxm, strerror(-fds[i]));
			ok = false;
			continue;
		}
		if (window_info(fds[i], &wi, bad)) {
			ok = false;
			continue;
		}
		if (wi.num_bad_pages != vm->wi.num_bad_pages ||
		    (wi.num_bad_pages && bad[0].offset != vm->bad[0].offset)) {
			note("vm%d's window came back elsewhere: %u bad pages, was %u",
			     vm->id, wi.num_bad_pages, vm->wi.num_bad_pages);
			ok = false;
		}
		nz = first_nonzero(fds[i], &wi, bad);
		if (nz != -1) {
			note("vm%d's window carved again: %s %#" PRIx64, vm->id,
			     nz == -2 ? "cannot read it all" : "nonzero byte at offset", nz);
			ok = false;
		}
	}
	for (i = 0; i < NR_VMS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ok;
}

static void print_table(void)
{
	char sz[16];
	int i;

	note("%-4s %-4s %-3s %-5s %-9s %-8s %-12s %-21s %6s %6s  %s", "VM", "QEMU", "PXM",
	     "SIZE", "BAD/SUBST", "PREALLOC", "EDU", "DEVICE PATH", "WINDOW", "EXIT",
	     "GUEST SAID");
	for (i = 0; i < NR_VMS; i++) {
		struct vm *vm = &vms[i];
		char win[16] = "-", ex[16] = "-", bad[16];

		if (vm->wfd >= 0)
			snprintf(win, sizeof(win), "%.1fs", vm->t_window - vm->t_start);
		if (vm->exited)
			snprintf(ex, sizeof(ex), "%.1fs", vm->t_exit - vm->t_start);
		snprintf(bad, sizeof(bad), "%u/%u", vm->wi.num_bad_pages, nr_substituted(vm));
		note("vm%-2d %-4s %-3u %-5s %-9s %-8s %-12s %-21s %6s %6s  %s", vm->id,
		     vm->qemu->label + 5, vm->pxm, human(vm->size, sz, sizeof(sz)),
		     bad, vm->prealloc ? "on" : "off", edu_bdf[vm->edu],
		     dev_label(vm), win, ex, vm->con[0] ? vm->con + 13 : "(nothing)");
	}
}

static void load_edus(void)
{
	const char *slots = plat_str("EGM_PLAT_EDU_SLOTS");
	char buf[256], *tok, *save;

	if (!slots)
		slots = plat_str("EGM_PLAT_EDU_SLOT");
	snprintf(buf, sizeof(buf), "%s", slots ? slots : "");
	for (tok = strtok_r(buf, " ", &save); tok && nr_edu < NR_VMS;
	     tok = strtok_r(NULL, " ", &save))
		snprintf(edu_bdf[nr_edu++], sizeof(edu_bdf[0]), "0000:00:%s", tok);
}

static int vms_main(void)
{
	uint32_t pxm[2] = { 0, 1 };
	uint64_t free0[2], free1[2];
	int i, together;
	bool ok;

	if (!demo) {
		ksft_print_header();
		ksft_set_plan(17);
	}
	rootfs_setup(&q72);
	rootfs_setup(&q11);
	report(q72.ready, "qemu72_rootfs", "QEMU 7.2 rootfs: %s",
	       q72.ready ? q72.version : "not available");
	report(q11.ready, "qemu11_rootfs", "QEMU 11 rootfs: %s",
	       q11.ready ? q11.version : "not available");

	load_edus();
	ok = nr_edu == NR_VMS;
	for (i = 0; i < nr_edu && ok; i++)
		ok = !edu_vfio_bind(edu_bdf[i]);
	report(ok, "edu_to_vfio", "%d edu functions bound to vfio-pci (platform.env has %d)",
	       ok ? nr_edu : 0, nr_edu);

	for (i = 0; i < 2; i++)
		free0[i] = region_free(pxm[i]);
	note("free before: PXM 0 %" PRIu64 "M, PXM 1 %" PRIu64 "M", free0[0] / SZ_1M,
	     free0[1] / SZ_1M);

	for (i = 0; i < NR_VMS; i++)
		vms[i].wfd = -1;
	together = run_vms();
	for (i = 0; i < NR_VMS; i++) {
		read_con(&vms[i]);
		if (vms[i].wfd >= 0)
			scan_window(&vms[i]);
	}
	if (demo)
		printf("\n");
	print_table();

	for (i = 0; i < NR_VMS; i++) {
		struct vm *vm = &vms[i];
		char log[64];
		bool good = vm_ran(vm) && vm->pages && (vm->dev == DEV_NONE || vm->edu_ok);

		snprintf(log, sizeof(log), "vm%d_runs", vm->id);
		report(good, log, "vm%d: %s on PXM %u, %" PRIu64 "M%s, edu via %s: %s", vm->id,
		       vm->qemu->label, vm->pxm, vm->size / SZ_1M,
		       vm->prealloc ? ", prealloc=on" : "", dev_label(vm),
		       good ? "payload done" : "failed");
		if (!good) {
			snprintf(log, sizeof(log), VMM_DIR "/vm%d.log", vm->id);
			note("vm%d: exit status %d, debugcon: %s; end of %s:", vm->id,
			     WIFEXITED(vm->status) ? WEXITSTATUS(vm->status) :
			     128 + WTERMSIG(vm->status), vm->con[0] ? vm->con : "(empty)", log);
			show_tail(log, 8);
		}
	}
	report(together == NR_VMS, "vms_at_once", "%d of %d QEMUs ran at the same moment",
	       together, NR_VMS);
	report(vms[2].wfd >= 0 && vms[2].wi.num_bad_pages > 0 &&
	       (vms[2].bad[0].flags & EGM_BAD_PAGE_RETIRED),
	       "vm3_retired",
	       "EGM_WINDOW_INFO lists %u bad pages in vm3's window, %u of them substituted%s%#llx",
	       vms[2].wi.num_bad_pages, nr_substituted(&vms[2]),
	       vms[2].wi.num_bad_pages ? ", the first at offset " : "",
	       vms[2].wi.num_bad_pages ? (unsigned long long)vms[2].bad[0].offset : 0ULL);

	for (i = 0; i < NR_VMS; i++) {
		struct vm *vm = &vms[i];
		char name[32];

		snprintf(name, sizeof(name), "vm%d_signature", vm->id);
		report(vm->wfd >= 0 && vm->pages && vm->own == vm->pages && !vm->misplaced &&
		       !vm->unlisted_holes, name,
		       "vm%d: %lu of the %lu pages it signed are in its window at their guest addresses (%lu misplaced, %lu unmapped)",
		       vm->id, vm->own,
		       vm->pages, vm->misplaced, vm->holes);
	}
	ok = true;
	for (i = 0; i < NR_VMS; i++)
		ok &= vms[i].wfd >= 0 && !vms[i].foreign;
	report(ok, "signatures_apart", "no window holds another VM's signature (%lu, %lu, %lu)",
	       vms[0].foreign, vms[1].foreign, vms[2].foreign);
	for (i = 0; i < NR_VMS; i++) {
		struct vm *vm = &vms[i];
		char name[32];

		snprintf(name, sizeof(name), "vm%d_dma", vm->id);
		report(vm->dma_ok, name, "vm%d: edu DMA through the %s landed in its window%s%s",
		       vm->id, dev_label(vm), vm->dma_ok ? "" : ": ",
		       vm->dma_ok ? "" : vm->dma_why[0] ? vm->dma_why : "not checked");
	}

	for (i = 0; i < NR_VMS; i++)
		if (vms[i].wfd >= 0)
			close(vms[i].wfd);
	ok = free_back(pxm, free0, 2, free1);
	report(ok, "free_back", "region free after the VMs: PXM 0 %" PRIu64 "M, PXM 1 %" PRIu64
	       "M (before %" PRIu64 "M, %" PRIu64 "M)", free1[0] / SZ_1M, free1[1] / SZ_1M,
	       free0[0] / SZ_1M, free0[1] / SZ_1M);
	ok = recarve_zero();
	ok &= free_back(pxm, free0, 2, free1);
	report(ok, "zeroed", "the windows carved again in the same places read as zero");

	for (i = 0; i < nr_edu; i++)
		edu_vfio_unbind(edu_bdf[i]);
	if (demo)
		return ksft_get_fail_cnt() ? 1 : 0;
	ksft_finished();
}

/* --- a real Linux guest (make demo) --- */

static bool find_in(const uint8_t *w, uint64_t len, const char *s, uint64_t *at)
{
	const uint8_t *p = memmem(w, len, s, strlen(s));

	if (!p)
		return false;
	*at = p - w;
	return true;
}

static int linux_main(void)
{
	const char *kernel = VMM_SHARE "/vmlinux", *initrd = VMM_SHARE "/initrd.img";
	uint64_t size = 256 * SZ_1M, at, free0, free1;
	char token[32], marker[64], s[32], line[512];
	struct egm_bad_page bad[MAX_BAD];
	struct egm_window_info wi;
	double t_start, t_exit = 0;
	int status = 0, wfd = -1;
	uint32_t pxm = 1;
	struct argv a = { };
	char wpath[64];
	bool ok;
	uint8_t *w;
	FILE *f;
	pid_t pid;

	rootfs_setup(&q11);
	report(q11.ready, "qemu11", "%s", q11.ready ? q11.version : "QEMU 11 is not available");
	if (!q11.ready || access(kernel, R_OK) || access(initrd, R_OK)) {
		report(false, "staged", "the bench kernel and initramfs are on the share (%s)",
		       VMM_SHARE);
		return 1;
	}
	/* What only the guest's userspace can have written. */
	srand(time(NULL) ^ getpid());
	snprintf(token, sizeof(token), "%08x%08x", rand(), rand());
	snprintf(marker, sizeof(marker), "inner-linux-wrote:%s", token);
	mkdir(VMM_DIR "/inner", 0755);
	mkdir(VMM_DIR "/inner/guest", 0755);
	if (system("cp /egm/guest/inner.sh " VMM_DIR "/inner/guest/inner.sh")) {
		report(false, "staged", "cannot stage guest/inner.sh");
		return 1;
	}

	free0 = region_free(pxm);
	qemu_prefix(&a, &q11, pxm, size);
	arg(&a, "-object");
	arg(&a, "memory-backend-file,id=m0,mem-path=/proc/self/fd/{},size=%s,share=on,prealloc=on",
	    human(size, s, sizeof(s)));
	arg(&a, "-numa");
	arg(&a, "node,memdev=m0");
	arg(&a, "-kernel");
	arg(&a, "%s", kernel);
	arg(&a, "-initrd");
	arg(&a, "%s", initrd);
	arg(&a, "-append");
	arg(&a, "console=ttyS0 panic=-1 quiet egm_vm=inner egm_token=%s", token);
	arg(&a, "-virtfs");
	arg(&a, "local,path=" VMM_DIR "/inner,mount_tag=egm,security_model=none");
	arg(&a, "-serial");
	arg(&a, "file:" VMM_DIR "/linux.log");
	note("the bench's own kernel (PVH vmlinux), booted nested on a %s window of PXM %u",
	     human(size, s, sizeof(s)), pxm);
	print_cmd(&a);
	t_start = now();
	pid = spawn(&a, VMM_DIR "/linux.qemu.log");
	for (;;) {
		if (wfd < 0) {
			wfd = reopen_window(pid, NULL, wpath, sizeof(wpath));
			if (wfd >= 0)
				note("window reopened through %s after %.1fs", wpath,
				     now() - t_start);
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			t_exit = now();
			break;
		}
		if (now() - t_start > LINUX_TIMEOUT_S) {
			note("still running after %ds: killing it", LINUX_TIMEOUT_S);
			kill(-pid, SIGKILL);
		}
		usleep(wfd < 0 ? 5000 : 200000);
	}
	note("QEMU exited after %.1fs (status %d); the guest's console:", t_exit - t_start,
	     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	f = fopen(VMM_DIR "/linux.log", "r");
	ok = false;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (strstr(line, "egm-inner:") || strstr(line, "Kernel panic")) {
			note("  | %s", line);
			ok |= !!strstr(line, "egm-inner: done");
		}
	}
	if (f)
		fclose(f);
	report(ok, "booted", "a Linux guest booted to userspace on window RAM and powered off");
	if (!ok)
		show_tail(VMM_DIR "/linux.qemu.log", 8);

	if (wfd < 0) {
		report(false, "reopened", "the window was reopened while QEMU ran");
		return 1;
	}
	window_info(wfd, &wi, bad);
	w = mmap(NULL, wi.length, PROT_READ, MAP_SHARED, wfd, 0);
	if (w == MAP_FAILED) {
		report(false, "mapped", "mmap of the window: %s", strerror(errno));
		return 1;
	}
	/* The guest writes it (tmpfs, guest RAM): it must be in the window. */
	ok = find_in(w, wi.length, marker, &at);
	report(ok, "marker", "what the guest wrote is in the window (\"%s\"%s%#" PRIx64 ")", marker,
	       ok ? " at offset " : ", not found", ok ? at : 0);
	ok = find_in(w, wi.length, "Linux version ", &at);
	report(ok, "banner", "the kernel image is in the window (its banner%s%#" PRIx64 ")",
	       ok ? " at offset " : " not found", ok ? at : 0);
	munmap(w, wi.length);
	close(wfd);
	free1 = region_free(pxm);
	report(free1 == free0, "freed",
	       "the window went back to PXM %u (free %" PRIu64 "M, before %" PRIu64 "M)",
	       pxm, free1 / SZ_1M, free0 / SZ_1M);
	return ksft_get_fail_cnt() ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sigbus, .sa_flags = SA_NODEFER };
	bool linux_guest = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--demo")) {
			demo = true;
		} else if (!strcmp(argv[i], "--linux")) {
			demo = true;
			linux_guest = true;
		} else {
			fprintf(stderr, "usage: %s [--demo | --linux]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	t0 = now();
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	mkdir(VMM_DIR, 0755);
	if (plat_load(NULL))
		fprintf(stderr, "# cannot read the platform description\n");
	return linux_guest ? linux_main() : vms_main();
}
