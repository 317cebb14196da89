/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for QEMU's include/qapi/qmp/qerror.h: the one message
 * migration/page_cache.c uses, as a format taking the parameter's name
 * and what is wrong with its value (our wording).
 */
#ifndef BENCH_QAPI_QMP_QERROR_H
#define BENCH_QAPI_QMP_QERROR_H

#define QERR_INVALID_PARAMETER_VALUE "invalid value of %s: %s"

#endif
