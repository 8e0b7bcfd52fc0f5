/* SPDX-License-Identifier: MIT */
/*
 * internal.h: what the template module's files share: the YAML-to-jansson parser and the
 * evaluator of CloudFormation intrinsic functions.
 *
 * The tree: every YAML scalar becomes a JSON string holding its text exactly (so "1.10" stays
 * "1.10" and `true` stays "true"), except a plain null ("", "~", "null") which becomes JSON
 * null. Short-form tags become the long form CloudFormation defines: `!Ref X` is {"Ref": X},
 * `!GetAtt A.B` is {"Fn::GetAtt": ["A", "B"]}, any other `!Name v` is {"Fn::Name": v}.
 */
#ifndef GALLEY_TEMPLATE_INTERNAL_H
#define GALLEY_TEMPLATE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "galley/err.h"
#include "galley/template.h"

#define GL_TEMPLATE_MAX_DEPTH 128

/**
 * Parse YAML text into *root (a new reference to an object). *lines (new reference) maps
 * "/"-joined key paths of the first levels ("Resources/Fn/Properties/Timeout") to the 1-based
 * line of that key. Aliases, complex keys, duplicate keys and a non-mapping document are
 * refused. On error err says "file:line: what".
 */
int gl_template_parse_yaml(const char *text, size_t len, const char *file, json_t **root,
                      json_t **lines, gl_err_t *err);

/** Line of the key at path (components NULL-terminated), trying shorter prefixes; 0 if none. */
int gl_template_line(json_t *lines, const char *const *path);

typedef enum gl_template_outcome {
    GL_TEMPLATE_VALUE = 0,   /* *out holds the value (new reference) */
    GL_TEMPLATE_NOVALUE,     /* Ref AWS::NoValue: the property is removed */
    GL_TEMPLATE_UNSUPPORTED, /* an intrinsic galley cannot evaluate: already warned about */
} gl_template_outcome_t;

typedef struct gl_template_eval {
    const char *file;
    const gl_template_ctx_t *ctx;
    json_t *params;    /* borrowed: parameter name -> value (string, or array of strings) */
    json_t *resources; /* borrowed: the Resources object, to recognise Ref to a resource */
    const char *resource; /* logical id being evaluated, for messages */
} gl_template_eval_t;

/**
 * Work out the parameter values: each Parameters entry's Default, then ctx->overrides
 * ("Name=Value") on top; list types (CommaDelimitedList, List<...>) become arrays.
 * *params is a new reference.
 */
int gl_template_params(const char *file, json_t *parameters, const gl_template_ctx_t *ctx,
                  json_t **params, gl_err_t *err);

/**
 * Evaluate the intrinsics in node (borrowed). path names the property for messages
 * ("Environment.Variables.TABLE"). Returns a gl_template_outcome_t (>= 0) or a negative errno
 * with err set. Maps drop members that come out NOVALUE or UNSUPPORTED.
 */
int gl_template_resolve(const gl_template_eval_t *ev, json_t *node, const char *path, json_t **out,
                   gl_err_t *err);

/* events.c: a serverless function's HTTP side. */
/** Events' Api and HttpApi entries as routes (*routes: a new JSON array, NULL when none). */
int gl_template_read_events(const char *file, const char *id, json_t *events, json_t **routes,
                            gl_err_t *err);
/** FunctionUrlConfig checked and typed (*out: a new object, NULL when absent). */
int gl_template_read_url_config(const char *file, const char *id, json_t *cfg, json_t **out,
                                gl_err_t *err);

#endif
