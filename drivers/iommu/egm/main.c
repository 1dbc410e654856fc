// SPDX-License-Identifier: GPL-2.0-only
/*
 * NVIDIA Grace Extended GPU Memory (EGM) driver.
 *
 * Copyright (c) 2026, The egm authors.
 */
#include <linux/module.h>

static int __init egm_init(void)
{
	return 0;
}

static void __exit egm_exit(void)
{
}

module_init(egm_init);
module_exit(egm_exit);

MODULE_DESCRIPTION("NVIDIA Grace Extended GPU Memory (EGM) driver");
MODULE_LICENSE("GPL");
