/*
 * annotations.h — the pass that turns source annotations into the typed
 * requests of each node (IrNode.req), checking each against its nodes.
 * The driver runs it after loading, before any pipeline (driver/pipeline.c);
 * the pass table lists it as "annotations" too (it is idempotent).
 */
#ifndef NETC_PASS_ANNOTATIONS_H
#define NETC_PASS_ANNOTATIONS_H

#include "../ir/ir.h"

/* Sets n->req on every node from its annotations (replacing what was
 * there); false after reporting bad arguments, annotations that fit none
 * of their nodes and conflicting direct requests to d. */
bool pass_annotations(IrGraph *g, Diag *d);

#endif
