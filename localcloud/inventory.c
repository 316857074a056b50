/*
 * Test endpoints under /_localcloud (no token needed, no faults applied):
 * GET /_localcloud/inventory answers every object of every API, grouped by
 * API and kind ({"compute": {"servers": {ID: {...}}}}), as stored; tests
 * compare it before and after a restart, or check that a destroy left
 * nothing. GET /_localcloud/health answers 200 once the server runs.
 * (/_localcloud/faults is faults.c's.)
 */
#include "apis.h"
#include "store.h"

static void get_inventory(struct lc_request *req, struct lc_response *resp)
{
    lc_resp_json(resp, 200, lc_store_inventory(lc_server_store(req->srv)));
}

static void get_health(struct lc_request *req, struct lc_response *resp)
{
    lc_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static const struct lc_route routes[] = {
    {"GET", "/inventory", get_inventory, 0},
    {"GET", "/health", get_health, 0},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api api = {
    .name = "localcloud",
    .prefix = "/_localcloud",
    .routes = routes,
    .error = lc_error_generic,
};

int lc_inventory_register(struct lc_server *srv)
{
    return lc_server_add_api(srv, &api, NULL);
}
