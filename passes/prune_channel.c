/*
 * prune_channel.c — channel / filter pruning over dependency groups. Being
 * written on the branch `channel`; until it lands a channel request is an
 * error, never silently ignored.
 */
#include "prune_internal.h"

bool prune_channels(PruneJob *job)
{
    for (int i = 0; i < job->nlayers; i++)
        if (job->layers[i].spec.kind == SP_CHANNEL) {
            const PruneLayer *l = &job->layers[i];
            diag_error(job->d, l->annotated ? l->where : l->node->loc,
                       "prune: channel pruning of %s is not available in this build yet",
                       prune_layer_name(l->node));
            return false;
        }
    return true;
}
