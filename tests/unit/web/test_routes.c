/* SPDX-License-Identifier: MIT */
/*
 * test_routes.c: API Gateway's route selection (src/web/routes.c): exact paths before
 * {param} ones before greedy {proxy+}, a named method before ANY, "$default" last, and the
 * decoded path parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static gl_web_route_t routes[] = {
    {0, "GET", "/items", "list"},
    {0, "GET", "/items/{id}", "one"},
    {0, "GET", "/items/special", "special"},
    {0, "ANY", "/items/{id}", "any-one"},
    {0, "GET", "/files/{proxy+}", "files"},
    {0, "ANY", "/{proxy+}", "catch"},
    {1, "POST", "/orders/{order}/lines/{line}", "line"},
    {0, "GET", "/", "root"},
};
#define N (sizeof(routes) / sizeof(routes[0]))

static const char *match(const char *method, const char *path, json_t **params)
{
    int i = gl_web_route_match(routes, N, method, path, params);
    return i < 0 ? NULL : routes[i].fn_name;
}

static void test_specificity(void **state)
{
    (void)state;
    json_t *p;
    assert_string_equal(match("GET", "/items", &p), "list");
    json_decref(p);
    assert_string_equal(match("GET", "/items/special", &p), "special");
    json_decref(p);
    assert_string_equal(match("GET", "/items/7", &p), "one");
    assert_string_equal(json_string_value(json_object_get(p, "id")), "7");
    json_decref(p);
    assert_string_equal(match("DELETE", "/items/7", &p), "any-one");
    json_decref(p);
    assert_string_equal(match("GET", "/", &p), "root");
    assert_int_equal(json_object_size(p), 0);
    json_decref(p);
}

static void test_greedy_and_params(void **state)
{
    (void)state;
    json_t *p;
    assert_string_equal(match("GET", "/files/a/b%20c.txt", &p), "files");
    assert_string_equal(json_string_value(json_object_get(p, "proxy")), "a/b c.txt");
    json_decref(p);
    assert_string_equal(match("PUT", "/files/a", &p), "catch");
    assert_string_equal(json_string_value(json_object_get(p, "proxy")), "files/a");
    json_decref(p);
    assert_string_equal(match("POST", "/orders/o1/lines/2", &p), "line");
    assert_string_equal(json_string_value(json_object_get(p, "order")), "o1");
    assert_string_equal(json_string_value(json_object_get(p, "line")), "2");
    json_decref(p);
    /* {id} takes exactly one segment: /items/7/x falls through to the greedy catch-all. */
    assert_string_equal(match("GET", "/items/7/x", &p), "catch");
    json_decref(p);
}

static void test_no_match_and_default(void **state)
{
    (void)state;
    json_t *p;
    gl_web_route_t few[] = {{1, "GET", "/a", "a"}, {1, "GET", "/b/{x}", "b"}};
    assert_int_equal(gl_web_route_match(few, 2, "GET", "/c", &p), -1);
    assert_null(p);
    assert_int_equal(gl_web_route_match(few, 2, "POST", "/a", &p), -1);
    assert_int_equal(gl_web_route_match(few, 2, "GET", "/b", &p), -1); /* {x} needs a segment */
    gl_web_route_t dflt[] = {{1, "ANY", "$default", "d"}, {1, "GET", "/a", "a"}};
    assert_int_equal(gl_web_route_match(dflt, 2, "GET", "/a", &p), 1);
    json_decref(p);
    assert_int_equal(gl_web_route_match(dflt, 2, "GET", "/zzz", &p), 0);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specificity),
        cmocka_unit_test(test_greedy_and_params),
        cmocka_unit_test(test_no_match_and_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
