/* SPDX-License-Identifier: MIT */
/*
 * layers.c: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
 * ListLayerVersions and DeleteLayerVersion over the registry's layer store (layers.h), with
 * Lambda's shapes and errors. The path's {LayerName} (a name or a layer ARN) and
 * {VersionNumber} are read here (gl_api_layer_target); the permission operations are in
 * layer_policy.c. Content is ZipFile only: S3 is refused as CreateFunction refuses it.
 * PublishLayerVersion checks the request on the loop and decodes, unpacks and stores the zip
 * on libuv's work queue (a job of offload.c), answering when that is done; publishes run in
 * parallel, the registry numbering them under its lock. GetLayerVersion(ByArn) of a template
 * layer whose digest is being walked again waits for it (parked_t, wait_digest).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/layers.h"
#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define LAYERS_PREFIX "/2018-10-31/layers/"
#define LAYER_NAME_PATTERN                                                                         \
    "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
#define LAYER_VERSION_ARN_PATTERN                                                                  \
    "arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"

int gl_api_layer_target(gl_api_t *api, gl_http_req_t *req, gl_api_layer_target_t *t)
{
    const char *p = req->path + strlen(LAYERS_PREFIX);
    size_t seg = strcspn(p, "/");
    char *raw = NULL;
    memset(t, 0, sizeof(*t));
    if (gl_url_decode(p, seg, &raw) < 0 || gl_layer_parse_name(raw, t->name) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.140s' at 'layerName' "
                                "failed to satisfy constraint: Member must satisfy regular "
                                "expression pattern: " LAYER_NAME_PATTERN,
                                raw ? raw : "");
        free(raw);
        return -1;
    }
    gl_layer_ref_t ref;
    t->foreign = gl_layer_parse_arn(raw, 0, &ref) == 0 &&
                 (strcmp(ref.region, gl_registry_region(api->reg)) ||
                  strcmp(ref.account, gl_registry_account(api->reg)));
    free(raw);
    p += seg;
    if (strncmp(p, "/versions/", 10) != 0)
        return 0;
    p += 10;
    seg = strcspn(p, "/");
    char *end = NULL;
    t->version = strtol(p, &end, 10);
    if (seg == 0 || seg > 15 || end != p + seg || t->version < 1) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "Invalid Layer Version number: %.*s", (int)(seg > 32 ? 32 : seg),
                                p);
        return -1;
    }
    t->sid = p[seg] == '/' && !strncmp(p + seg, "/policy/", 8) ? p + seg + 8 : NULL;
    return 0;
}

/* GetLayerVersion's shape of rec (full: with Content and LayerArn; else a list item). */
static json_t *layer_json(gl_api_t *api, const char *name, const json_t *rec, int full)
{
    char arn[256], varn[280];
    long version = (long)json_integer_value(json_object_get(rec, "Version"));
    gl_layer_arn(api->reg, name, 0, arn, sizeof(arn));
    gl_layer_arn(api->reg, name, version, varn, sizeof(varn));
    json_t *o = json_pack("{s:s,s:I,s:O,s:O}", "LayerVersionArn", varn, "Version",
                          (json_int_t)version, "Description", json_object_get(rec, "Description"),
                          "CreatedDate", json_object_get(rec, "CreatedDate"));
    static const char *const opt[] = {"CompatibleRuntimes", "CompatibleArchitectures",
                                      "LicenseInfo"};
    for (size_t i = 0; o && i < sizeof(opt) / sizeof(opt[0]); i++)
        if (json_object_get(rec, opt[i]))
            json_object_set(o, opt[i], json_object_get(rec, opt[i]));
    if (o && full) {
        char *loc = NULL;
        const char *dir = json_string_value(json_object_get(rec, "ContentDir"));
        const char *tdir = json_string_value(json_object_get(rec, "TemplateDir"));
        if ((tdir ? asprintf(&loc, "file://%s", tdir)
                  : asprintf(&loc, "file://%s/layer.zip", dir ? dir : "")) < 0)
            loc = NULL;
        json_object_set_new(o, "LayerArn", json_string(arn));
        json_object_set_new(o, "Content",
                            json_pack("{s:s?,s:O,s:O}", "Location", loc, "CodeSha256",
                                      json_object_get(rec, "CodeSha256"), "CodeSize",
                                      json_object_get(rec, "CodeSize")));
        free(loc);
    }
    return o;
}

static void reply_not_found(gl_http_req_t *req)
{
    gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                            "The resource you requested does not exist.");
}

int gl_api_refuse_template_layer(gl_api_t *api, gl_http_req_t *req, const char *name)
{
    if (!gl_layer_is_template(api->reg, name))
        return 0;
    gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                            "Layer %s is defined by the template; change it in the template, "
                            "galley cannot publish, delete or change versions of it through "
                            "the API.",
                            name);
    return -1;
}

/* The record the path names, or NULL after replying (bad path, 404). */
json_t *gl_api_layer_record(gl_api_t *api, gl_http_req_t *req, gl_api_layer_target_t *t)
{
    if (gl_api_layer_target(api, req, t) < 0)
        return NULL;
    json_t *rec = t->foreign ? NULL : gl_layer_get(api->reg, t->name, t->version);
    if (!rec)
        reply_not_found(req);
    return rec;
}

/* One ValidationException for a string member over max characters, or of the wrong type. */
static int check_string(gl_http_req_t *req, const json_t *body, const char *key,
                        const char *field, size_t max)
{
    const char *v;
    if (gl_api_opt_string(req, body, key, &v) < 0)
        return -1;
    if (!v || json_string_length(json_object_get(body, key)) <= max)
        return 0;
    gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                            "1 validation error detected: Value '%.256s' at '%s' failed to "
                            "satisfy constraint: Member must have length less than or equal to "
                            "%zu",
                            v, field, max);
    return -1;
}

/* CompatibleRuntimes (<= 15 known runtimes) and CompatibleArchitectures (<= 2 of x86_64,
 * arm64); -1 after replying. */
static int check_lists(gl_http_req_t *req, const json_t *body)
{
    static const struct {
        const char *key, *field;
        size_t max;
    } lists[] = {{"CompatibleRuntimes", "compatibleRuntimes", 15},
                 {"CompatibleArchitectures", "compatibleArchitectures", 2}};
    for (size_t l = 0; l < 2; l++) {
        const json_t *v = json_object_get(body, lists[l].key), *item;
        size_t i;
        if (!v || json_is_null(v))
            continue;
        if (!json_is_array(v)) {
            gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                    "Could not parse request body into json: member %s must be "
                                    "an array",
                                    lists[l].key);
            return -1;
        }
        if (json_array_size(v) > lists[l].max) {
            gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                    "1 validation error detected: Value '[%zu items]' at '%s' "
                                    "failed to satisfy constraint: Member must have length less "
                                    "than or equal to %zu",
                                    json_array_size(v), lists[l].field, lists[l].max);
            return -1;
        }
        json_array_foreach(v, i, item)
        {
            const char *s = json_string_value(item);
            int ok = s && (l == 0 ? gl_runtime_classify(s) != GL_RUNTIME_UNKNOWN
                                  : !strcmp(s, "x86_64") || !strcmp(s, "arm64"));
            if (!ok) {
                gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                        "1 validation error detected: Value '%.64s' at '%s' "
                                        "failed to satisfy constraint: Member must satisfy enum "
                                        "value set",
                                        s ? s : "", lists[l].field);
                return -1;
            }
        }
    }
    return 0;
}

/* A PublishLayerVersion in progress: a job of kind "layer" (offload.c). */
typedef struct publish {
    gl_api_job_t job; /* first: the job is the publish */
    char name[GL_LAYER_NAME_MAX + 1];
    json_t *body;     /* holds b64 and the version's members; read by the worker only */
    const char *b64;
    size_t b64_len;
    /* the worker's result */
    int rc;
    gl_aws_error_t fail; /* rc < 0 before the unzip (bad base64, too large) */
    gl_archive_result_t res;
    gl_err_t err;
    json_t *rec;         /* the stored record */
} publish_t;

static const char LAYER_JOB[] = "layer";

/* The work queue's thread: decode, unpack and store under the next number. */
static void on_publish_work(gl_api_job_t *job)
{
    publish_t *p = (publish_t *)job;
    unsigned char *zip = NULL;
    size_t len = 0;
    p->rc = gl_api_zip_decode(p->b64, p->b64_len, &zip, &len, NULL, &p->fail);
    if (p->rc == 0) /* on failure res and err say why */
        p->rc = gl_layer_publish(job->api->reg, p->name, zip, len, p->body, &job->stop, &p->rec,
                                 &p->res, &p->err);
    free(zip);
}

static long rec_version(const json_t *rec)
{
    return (long)json_integer_value(json_object_get(rec, "Version"));
}

/* Back on the loop: answer with the new version, or why there is none. */
static void on_publish_done(gl_api_job_t *job, int stopping, int cancelled)
{
    publish_t *p = (publish_t *)job;
    gl_api_t *api = job->api;
    (void)cancelled;
    if (stopping) {
        if (p->rec) /* stored just before the stop: the client hears it was not */
            gl_layer_delete(api->reg, p->name, rec_version(p->rec));
        gl_api_job_reply_error(job, GL_AWS_SERVICE,
                               "The service is stopping: the layer version was not stored");
    } else if (p->rc < 0 && p->fail.msg[0]) {
        gl_api_job_reply_error(job, p->fail.type, p->fail.msg);
    } else if (p->rc < 0) {
        char msg[GL_AWS_MSG_MAX];
        gl_aws_err_t type = gl_api_archive_message(&p->res, &p->err, "layer", msg, sizeof(msg));
        if (type == GL_AWS_SERVICE)
            gl_log_error("api: publishing layer %s: %s: %s", p->name, p->err.msg,
                         strerror(p->err.code));
        gl_api_job_reply_error(job, type, msg);
    } else {
        json_t *full = gl_layer_get(api->reg, p->name, rec_version(p->rec));
        gl_http_req_t *req = gl_api_job_take_req(job);
        if (req)
            gl_api_reply_json(req, 201, full ? layer_json(api, p->name, full, 1) : NULL);
        json_decref(full);
    }
    json_decref(p->rec);
    json_decref(p->body);
    free(p);
}

/* Queue the publish of body's Content.ZipFile (b64, a string of body) as a version of name. */
static void publish_start(gl_api_t *api, gl_http_req_t *req, const char *name, json_t *body,
                          const char *b64, size_t b64_len)
{
    publish_t *p = calloc(1, sizeof(*p));
    if (!p) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->job.kind = LAYER_JOB;
    p->job.name = p->name;
    p->job.run = on_publish_work;
    p->job.done = on_publish_done;
    p->body = json_incref(body);
    p->b64 = b64;
    p->b64_len = b64_len;
    int rc = gl_api_job_start(api, &p->job, req);
    if (rc < 0) {
        json_decref(p->body);
        free(p);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the layer's code: %s",
                                uv_strerror(rc));
    }
}

void gl_api_publish_layer_version(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_api_layer_target_t t;
    gl_aws_error_t aerr;
    const char *b64;
    size_t b64_len;
    json_t *body = NULL, *content;
    if (gl_api_layer_target(api, req, &t) < 0 || !(body = gl_api_body_object(req)))
        return;
    if (t.foreign) {
        reply_not_found(req);
    } else if (gl_api_refuse_template_layer(api, req, t.name) < 0 ||
               check_string(req, body, "Description", "description", 256) < 0 ||
               check_string(req, body, "LicenseInfo", "licenseInfo", 512) < 0 ||
               check_lists(req, body) < 0) {
    } else if (!(content = json_object_get(body, "Content")) || json_is_null(content)) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value null at 'content' failed to "
                                "satisfy constraint: Member must not be null");
    } else if (gl_fn_code_from_request(content, &b64, &b64_len, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
    } else {
        publish_start(api, req, t.name, body, b64, b64_len);
    }
    json_decref(body);
}

/*
 * A template layer's CodeSha256 and CodeSize are walked off the loop (layer_digest.c): an
 * answer showing them while a walk is in flight (at start, or after hot reload saw a change)
 * waits for it, then runs again(api, req). 1 when parked or answered, 0 to answer now.
 */
typedef struct parked {
    gl_api_t *api;
    gl_http_req_t *req;
    gl_layer_waiter_t *w;
    void (*again)(gl_api_t *api, gl_http_req_t *req);
} parked_t;

static void on_digest_ready(void *arg)
{
    parked_t *p = arg;
    p->req->on_abort = NULL;
    p->req->data = NULL;
    p->again(p->api, p->req);
    free(p);
}

/* The client went away first: stop waiting; the request is freed after this returns. */
static void on_parked_gone(gl_http_req_t *req)
{
    parked_t *p = req->data;
    gl_layer_template_unwait(p->api->reg, p->w);
    free(p);
}

static int wait_digest(gl_api_t *api, gl_http_req_t *req, const char *name, long version,
                       void (*again)(gl_api_t *api, gl_http_req_t *req))
{
    if (version != 1 || !gl_layer_is_template(api->reg, name))
        return 0;
    parked_t *p = calloc(1, sizeof(*p));
    if (p)
        *p = (parked_t){.api = api, .req = req, .again = again};
    int rc = p ? gl_layer_template_wait(api->reg, name, on_digest_ready, p, &p->w) : -ENOMEM;
    if (rc <= 0) {
        free(p);
        if (rc < 0)
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return rc < 0;
    }
    req->data = p;
    req->on_abort = on_parked_gone;
    gl_log_debug("api: %s waits for layer %s's CodeSha256", req->path, name);
    return 1;
}

static void get_again(gl_api_t *api, gl_http_req_t *req)
{
    gl_api_get_layer_version(api, req, NULL);
}

void gl_api_get_layer_version(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_api_layer_target_t t;
    if (gl_api_layer_target(api, req, &t) < 0 ||
        (!t.foreign && wait_digest(api, req, t.name, t.version, get_again)))
        return;
    json_t *rec = gl_api_layer_record(api, req, &t);
    if (!rec)
        return;
    gl_api_reply_json(req, 200, layer_json(api, t.name, rec, 1));
    json_decref(rec);
}

void gl_api_delete_layer_version(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_api_layer_target_t t;
    if (gl_api_layer_target(api, req, &t) < 0 ||
        (!t.foreign && gl_api_refuse_template_layer(api, req, t.name) < 0))
        return;
    char *trash = NULL;
    int rc = t.foreign ? 0 : gl_layer_retire(api->reg, t.name, t.version, &trash);
    if (trash) /* a whole unpacked layer: deleted on the work queue, never on the loop */
        gl_rm_rf_later(api->loop, trash, 0);
    if (rc < 0) {
        gl_log_error("api: delete layer %s:%ld: %s", t.name, t.version, strerror(-rc));
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not delete the layer version: %s",
                                strerror(-rc));
        return;
    }
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply(req, 204, &h, 1, NULL, 0);
}

/* GetLayerVersionByArn: GET /layers?find=LayerVersion&Arn=... */
static void get_by_arn(gl_api_t *api, gl_http_req_t *req)
{
    char *arn = gl_query_get(req->query, "Arn");
    gl_layer_ref_t ref;
    json_t *rec = NULL;
    if (gl_layer_parse_arn(arn, 1, &ref) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.140s' at 'arn' failed to "
                                "satisfy constraint: Member must satisfy regular expression "
                                "pattern: " LAYER_VERSION_ARN_PATTERN,
                                arn ? arn : "null");
    } else if (strcmp(ref.region, gl_registry_region(api->reg)) ||
               strcmp(ref.account, gl_registry_account(api->reg))) {
        reply_not_found(req);
    } else if (wait_digest(api, req, ref.name, ref.version, get_by_arn)) {
        /* answered later */
    } else if (!(rec = gl_layer_get(api->reg, ref.name, ref.version))) {
        reply_not_found(req);
    } else {
        gl_api_reply_json(req, 200, layer_json(api, ref.name, rec, 1));
    }
    json_decref(rec);
    free(arn);
}

/* The list filters: -1 after replying for a runtime or architecture Lambda does not have. */
static int filters(gl_http_req_t *req, char **runtime, char **arch)
{
    *runtime = gl_query_get(req->query, "CompatibleRuntime");
    *arch = gl_query_get(req->query, "CompatibleArchitecture");
    if (*runtime && gl_runtime_classify(*runtime) == GL_RUNTIME_UNKNOWN) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s' at "
                                "'compatibleRuntime' failed to satisfy constraint: Member must "
                                "satisfy enum value set",
                                *runtime);
        return -1;
    }
    if (*arch && strcmp(*arch, "x86_64") && strcmp(*arch, "arm64")) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s' at "
                                "'compatibleArchitecture' failed to satisfy constraint: Member "
                                "must satisfy enum value set: [x86_64, arm64]",
                                *arch);
        return -1;
    }
    return 0;
}

static int lists_value(const json_t *rec, const char *key, const char *want)
{
    const json_t *v;
    size_t i;
    if (!want)
        return 1;
    json_array_foreach(json_object_get(rec, key), i, v)
        if (json_string_value(v) && !strcmp(json_string_value(v), want))
            return 1;
    return 0;
}

static int matches(const json_t *rec, const char *runtime, const char *arch)
{
    return lists_value(rec, "CompatibleRuntimes", runtime) &&
           lists_value(rec, "CompatibleArchitectures", arch);
}

/* ListLayers: each layer with its newest version matching the filters, by name. */
static void list_layers(gl_api_t *api, gl_http_req_t *req, const char *runtime, const char *arch,
                        size_t page, const char *after)
{
    json_t *names = gl_layer_names(api->reg), *items = json_array(), *v;
    const char *last = NULL;
    size_t i;
    json_array_foreach(names, i, v)
    {
        const char *name = json_string_value(v);
        if (after[0] && strcmp(name, after) <= 0)
            continue;
        if (json_array_size(items) == page)
            break;
        json_t *versions = gl_layer_versions(api->reg, name), *rec = NULL, *each;
        size_t k;
        json_array_foreach(versions, k, each)
            if (!rec && matches(each, runtime, arch))
                rec = each;
        if (rec) {
            char arn[256];
            gl_layer_arn(api->reg, name, 0, arn, sizeof(arn));
            json_array_append_new(items, json_pack("{s:s,s:s,s:o}", "LayerName", name,
                                                   "LayerArn", arn, "LatestMatchingVersion",
                                                   layer_json(api, name, rec, 0)));
            last = name;
        }
        json_decref(versions);
    }
    json_t *resp = json_pack("{s:o}", "Layers", items);
    if (resp && i < json_array_size(names) && last)
        gl_api_next_marker(resp, last);
    gl_api_reply_json(req, 200, resp);
    json_decref(names);
}

void gl_api_list_layers(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    char *find = gl_query_get(req->query, "find"), *marker = gl_query_get(req->query, "Marker");
    char *runtime = NULL, *arch = NULL, after[GL_LAYER_NAME_MAX + 1];
    size_t page;
    if (find && !strcmp(find, "LayerVersion"))
        get_by_arn(api, req);
    else if (filters(req, &runtime, &arch) == 0 && gl_api_max_items(req, &page) == 0 &&
             gl_api_marker(req, marker, GL_LAYER_NAME_MAX, after) == 0)
        list_layers(api, req, runtime, arch, page, after);
    free(find);
    free(marker);
    free(runtime);
    free(arch);
}

/* ListLayerVersions: newest first; the marker is the last version number given. */
static void list_versions(gl_api_t *api, gl_http_req_t *req, const char *name,
                          const char *runtime, const char *arch, size_t page, long before)
{
    json_t *versions = gl_layer_versions(api->reg, name), *items = json_array(), *rec;
    long last = 0;
    size_t i;
    json_array_foreach(versions, i, rec)
    {
        long v = (long)json_integer_value(json_object_get(rec, "Version"));
        if ((before && v >= before) || !matches(rec, runtime, arch))
            continue;
        if (json_array_size(items) == page)
            break;
        json_array_append_new(items, layer_json(api, name, rec, 0));
        last = v;
    }
    json_t *resp = json_pack("{s:o}", "LayerVersions", items);
    if (resp && i < json_array_size(versions) && last) {
        char num[24];
        snprintf(num, sizeof(num), "%ld", last);
        gl_api_next_marker(resp, num);
    }
    gl_api_reply_json(req, 200, resp);
    json_decref(versions);
}

void gl_api_list_layer_versions(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_api_layer_target_t t;
    char *marker = gl_query_get(req->query, "Marker"), *runtime = NULL, *arch = NULL;
    char after[24];
    size_t page;
    if (gl_api_layer_target(api, req, &t) == 0 && filters(req, &runtime, &arch) == 0 &&
        gl_api_max_items(req, &page) == 0 && gl_api_marker(req, marker, 16, after) == 0)
        list_versions(api, req, t.foreign ? "" : t.name, runtime, arch, page,
                      strtol(after, NULL, 10));
    free(marker);
    free(runtime);
    free(arch);
}
