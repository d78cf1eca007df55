/*
 * ir_text.h — lexical rules the IR printer and parser must agree on (not
 * part of the public IR interface). Keeping them in one place is what makes
 * the text round-trip: a name the printer writes bare is exactly a name the
 * parser reads as one word.
 */
#ifndef NETC_IR_TEXT_H
#define NETC_IR_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Characters of a bare value name after '%': letters, digits, '_' and '.'. */
bool ir_text_is_word_char(int c);
/* [A-Za-z_][A-Za-z0-9_]*: names that need no quotes (graph, outputs, keys). */
bool ir_text_is_ident(const char *s);
/* Writes s as a double-quoted string with \" \\ \n \t \r \xHH escapes. */
void ir_text_put_string(FILE *out, const char *s);
/* Shortest text strtod reads back to v, always recognisable as a float. */
char *ir_text_format_double(double v, char *buf, size_t size);

#endif
