/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The emulated platform's layout, read from platform.env on the bench share
 * (tools/testing/egm-vm/platform-ARCH.sh on the host), so that tests compare
 * against the same numbers the firmware tables were generated from.
 *
 *	plat_load(NULL)              $EGM_PLATFORM_ENV or /egm/platform.env
 *	plat_str("EGM_PLAT_GPUS")    "10.0:0 11.0:0 12.0:1", or NULL
 *	plat_u64("EGM_PLAT_REGION0_BASE", &v)
 *	plat_region_u64(0, "BASE", &v)
 */
#ifndef EGM_VM_PLATFORM_H
#define EGM_VM_PLATFORM_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAT_MAX_VARS	64

static struct {
	char name[64];
	char value[256];
} plat_vars[PLAT_MAX_VARS];
static int plat_nvars;

/* Parse NAME=value lines; quotes around a value are dropped. */
static inline int plat_load(const char *path)
{
	char line[512], *eq, *v, *end;
	FILE *f;

	if (!path)
		path = getenv("EGM_PLATFORM_ENV");
	if (!path)
		path = "/egm/platform.env";
	f = fopen(path, "r");
	if (!f)
		return -errno;
	plat_nvars = 0;
	while (fgets(line, sizeof(line), f) && plat_nvars < PLAT_MAX_VARS) {
		if (line[0] == '#' || !(eq = strchr(line, '=')))
			continue;
		*eq = 0;
		v = eq + 1;
		end = v + strcspn(v, "\r\n");
		*end = 0;
		if (end > v && (*v == '"' || *v == '\'') && end[-1] == *v) {
			end[-1] = 0;
			v++;
		}
		snprintf(plat_vars[plat_nvars].name, sizeof(plat_vars[0].name), "%s", line);
		snprintf(plat_vars[plat_nvars].value, sizeof(plat_vars[0].value), "%s", v);
		plat_nvars++;
	}
	fclose(f);
	return plat_nvars ? 0 : -ENOENT;
}

static inline const char *plat_str(const char *name)
{
	int i;

	for (i = plat_nvars - 1; i >= 0; i--)
		if (!strcmp(plat_vars[i].name, name))
			return plat_vars[i].value;
	return NULL;
}

static inline int plat_u64(const char *name, uint64_t *out)
{
	const char *s = plat_str(name);
	char *end;

	if (!s || !*s)
		return -ENOENT;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

/* EGM_PLAT_REGION<r>_<field>, e.g. plat_region_u64(1, "SIZE", &v). */
static inline int plat_region_u64(int r, const char *field, uint64_t *out)
{
	char name[64];

	snprintf(name, sizeof(name), "EGM_PLAT_REGION%d_%s", r, field);
	return plat_u64(name, out);
}

#endif /* EGM_VM_PLATFORM_H */
