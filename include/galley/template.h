/* SPDX-License-Identifier: MIT */
/*
 * template.h: loading functions from a SAM / CloudFormation template (libyaml).
 *
 * Understands AWS::Serverless::Function and AWS::Lambda::Function, their layers
 * (AWS::Serverless::LayerVersion, AWS::Lambda::LayerVersion, local directories), Globals.Function,
 * Parameters with defaults, the pseudo parameters, and !Ref / !Sub / !GetAtt-free Fn:: forms
 * (Fn::Sub, Ref, Fn::Join, Fn::If is not supported and is warned about). Properties that
 * galley does not support are warned about with gl_log_warn, never silently misread.
 */
#ifndef GALLEY_TEMPLATE_H
#define GALLEY_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "galley/err.h"
#include "galley/fn.h"

typedef struct gl_template_ctx {
    const char *region;     /* AWS::Region */
    const char *account_id; /* AWS::AccountId */
    const char *stack_name; /* AWS::StackName, e.g. "galley" */
    /** Parameter overrides "Name=Value" (may be NULL / 0). */
    const char *const *overrides;
    size_t noverrides;
} gl_template_ctx_t;

typedef struct gl_template_fn {
    char *logical_id;
    gl_fn_config_t cfg; /* cfg.name is FunctionName when given, else the logical id;
                           cfg.code_dir is absolute, resolved against the template's directory;
                           defaults applied; code_sha256 "" and code_size 0 */
    int provisioned;          /* ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions
                                 on the AutoPublishAlias, 0 when none */
    char *auto_publish_alias; /* AutoPublishAlias (SAM): publish version 1 and point this
                                 alias at it when loaded; NULL when not set */
    json_t *url_config;       /* FunctionUrlConfig {AuthType, InvokeMode, Cors?}, or NULL */
    json_t *routes;           /* Events of Type Api/HttpApi: [{Type, Method, Path}], or NULL */
    json_t *layer_dirs;       /* the directories of its Layers (the template's own layers), in
                                 order; cfg.extra's Layers names them; NULL or [] when none */
} gl_template_fn_t;

typedef struct gl_template {
    gl_template_fn_t *fns;
    size_t nfns;
    json_t *layers; /* its layers: logical id -> {"Name", "Arn", "Dir", "Description"?,
                       "CompatibleRuntimes"?, "CompatibleArchitectures"?, "LicenseInfo"?} */
} gl_template_t;

/** Load path. On error, out is left empty and err says where (file:line) and what. */
int gl_template_load(const char *path, const gl_template_ctx_t *ctx, gl_template_t *out,
                     gl_err_t *err);
void gl_template_free(gl_template_t *t);

#endif
