/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KVM_XBZRLE_H
#define _KVM_XBZRLE_H

#include <linux/compiler_types.h>

long xbzrle_ioctl_get_caps(void __user *uarg, unsigned int cmd);

#endif /* _KVM_XBZRLE_H */
