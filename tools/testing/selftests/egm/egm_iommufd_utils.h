/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the egm iommufd and VFIO selftests: the region's
 * platform device (to revoke a region by unbinding it), SIGBUS probes and
 * data patterns for small buffers.
 *
 * Copyright (c) 2026, The egm authors.
 */
#ifndef __SELFTEST_EGM_IOMMUFD_UTILS_H
#define __SELFTEST_EGM_IOMMUFD_UTILS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Window length used by the import tests: a multiple of any alignment. */
#define WLEN		SZ_2M

/*
 * Window alignment: 2 MiB where the region offers it, else the page size
 * (a PMD is 512 MiB with 64 KiB pages). Needs egm_utils.h's PAGE_SIZE.
 */
static __u64 walign;

static inline void set_walign(const struct egm_region_info *info)
{
	walign = info->align & SZ_2M ? SZ_2M : PAGE_SIZE;
}

#define EGM_DRIVER_DIR	"/sys/bus/platform/drivers/egm"

/*
 * The name ("egm.N") of the bound platform device that carries the region of
 * @pxm, or -ENOENT. Its pxm attribute only exists while it is bound.
 */
static inline int egm_region_dev_name(__u32 pxm, char *name, size_t len)
{
	char path[512], buf[32];
	struct dirent *e;
	int ret = -ENOENT;
	DIR *dir;

	dir = opendir(EGM_DRIVER_DIR);
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		ssize_t n;
		int fd;

		if (strncmp(e->d_name, "egm.", 4))
			continue;
		snprintf(path, sizeof(path), EGM_DRIVER_DIR "/%s/pxm",
			 e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (strtoul(buf, NULL, 0) == pxm) {
			ret = strlen(e->d_name) < len ? 0 : -ENAMETOOLONG;
			if (!ret)
				strcpy(name, e->d_name);
			break;
		}
	}
	closedir(dir);
	return ret;
}

static inline bool egm_dev_bound(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), EGM_DRIVER_DIR "/%s", name);
	return access(path, F_OK) == 0;
}

/* Unbinding revokes every window of the region. */
static inline int egm_unbind(const char *name)
{
	return egm_sysfs_write(EGM_DRIVER_DIR "/unbind", name);
}

static inline int egm_bind(const char *name)
{
	return egm_sysfs_write(EGM_DRIVER_DIR "/bind", name);
}

/*
 * Touch @p in a child: return the signal that killed it, 0 if the access
 * worked, or -1 if the child could not be run.
 */
static inline int egm_probe_signal(volatile void *p, bool write)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (write)
			*(volatile uint64_t *)p = 0xdeadbeefULL;
		else
			(void)*(volatile uint64_t *)p;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

/* A byte pattern for small transfers; @seed tells buffers apart. */
static inline void egm_bytes_fill(void *p, size_t len, unsigned int seed)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)((i * 131 + seed * 17 + (i >> 8)) ^ seed);
}

/* Offset of the first byte that differs from the pattern, or -1. */
static inline long egm_bytes_check(const void *p, size_t len, unsigned int seed)
{
	const volatile uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != (uint8_t)((i * 131 + seed * 17 + (i >> 8)) ^ seed))
			return i;
	return -1;
}

#endif /* __SELFTEST_EGM_IOMMUFD_UTILS_H */
