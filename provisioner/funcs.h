/*
 * The functions of the ${...} language (expr.h): their names and arities,
 * which the parser checks at load time, and their evaluation. expr.c
 * evaluates the arguments and hands the values here; `if` is the one
 * function expr.c evaluates itself, because only the branch it takes may
 * be evaluated (the other may index a value that is null).
 */
#ifndef SF_FUNCS_H
#define SF_FUNCS_H

#include <jansson.h>

#include "diag.h"

/* A call being evaluated. error() reports a problem with argument argn
 * (0-based), or with the whole call when argn is -1. */
struct sf_fcall {
    int id;
    json_t **args;
    size_t n;
    const char *base_dir; /* file() paths are relative to this */
    void (*error)(void *ctx, int argn, const char *msg);
    void *ctx;
};

/* The function of that name: its id, with the arity in *min and *max (max
 * -1: any number). -1 when there is none. */
int sf_func_find(const char *name, int *min, int *max);
const char *sf_func_name(int id);
/* Every function name, NULL-terminated (for "did you mean"). */
const char *const *sf_func_names(void);
/* True for the function the evaluator runs lazily (if). */
int sf_func_is_if(int id);
/* Evaluate. A new reference (sf_unknown when an input is not known yet),
 * or NULL after f->error. */
json_t *sf_func_call(const struct sf_fcall *f);

#endif
