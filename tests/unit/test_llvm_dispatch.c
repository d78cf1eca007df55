/*
 * test_llvm_dispatch.c — the LLVM backend lowers every operator.
 *
 * ops.def keeps IR facts only; each backend has its own dispatch table
 * (backends/llvm/lower.c: lower_fns). An op added to ops.def without a
 * lowering would only surface when some network used it, as "not supported
 * by the llvm backend"; this test names it at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../backends/llvm/plan.h"

#include <stdio.h>
#include <string.h>

static void test_every_op_has_a_lowering(void **state)
{
    char missing[512] = "";
    size_t len = 0;
    for (int op = 0; op < OP__COUNT; op++)
        if (!llvm_lowers_op((OpKind)op) && len < sizeof missing)
            len += (size_t)snprintf(missing + len, sizeof missing - len, " %s",
                                    op_info((OpKind)op)->name);
    if (len)
        fail_msg("no llvm lowering for:%s", missing);
}

static void test_out_of_range_kinds(void **state)
{
    assert_false(llvm_lowers_op(OP__COUNT));
    assert_false(llvm_lowers_op((OpKind)-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_has_a_lowering),
        cmocka_unit_test(test_out_of_range_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
