/*
 * rt.h — the runtime's public entry points (one include for the driver).
 */
#ifndef NETC_RT_H
#define NETC_RT_H
#include "../ir/ir.h"
#endif
