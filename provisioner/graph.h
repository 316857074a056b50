/*
 * A directed acyclic graph of numbered nodes. The engine builds one from a
 * description (resources, with an edge from each dependency to its
 * dependent) and one per apply (the actions, see walk.h). An edge A -> B
 * means "A must finish before B starts".
 */
#ifndef SF_GRAPH_H
#define SF_GRAPH_H

#include <stddef.h>
#include <stdio.h>

struct sf_graph;

struct sf_graph *sf_graph_new(void);
void sf_graph_free(struct sf_graph *g);

/* Add a node; name is copied, data is borrowed. Returns its id (0, 1, ...). */
int sf_graph_add_node(struct sf_graph *g, const char *name, void *data);
/* Add the edge from -> to; adding an edge twice keeps one. */
void sf_graph_add_edge(struct sf_graph *g, int from, int to);
/* The node named so, or -1 (a hash lookup). */
int sf_graph_find(const struct sf_graph *g, const char *name);

size_t sf_graph_size(const struct sf_graph *g);
const char *sf_graph_name(const struct sf_graph *g, int id);
void *sf_graph_data(const struct sf_graph *g, int id);
/* Successors (nodes that wait for id) and predecessors (what id waits for);
 * the arrays are the graph's and valid until it changes. */
size_t sf_graph_succs(const struct sf_graph *g, int id, const int **out);
size_t sf_graph_preds(const struct sf_graph *g, int id, const int **out);

/* Find cycles: for every strongly connected component with more than one
 * node, or a node with an edge to itself, call cb with its members in an
 * order that follows the edges around the cycle. Returns how many. */
size_t sf_graph_cycles(const struct sf_graph *g,
                       void (*cb)(void *ctx, const int *members, size_t n), void *ctx);

/* Write a topological order (every node after its predecessors; ties
 * broken by id) into order[0..size-1]. Returns 0, or -1 when there is a
 * cycle. */
int sf_graph_topo(const struct sf_graph *g, int *order);

/* A new graph with the same nodes and each edge reversed. */
struct sf_graph *sf_graph_reverse(const struct sf_graph *g);
/* A new graph with the same nodes and only the edges that no longer path
 * implies (transitive reduction). The graph must be acyclic. */
struct sf_graph *sf_graph_reduce(const struct sf_graph *g);

/* Every node reachable from the start nodes (the starts included) marked
 * in mark[] (an array of size entries, set to 1). forward follows edges,
 * !forward follows them backwards. */
void sf_graph_reach(const struct sf_graph *g, const int *starts, size_t n, int forward, char *mark);

/* Write the graph in Graphviz DOT: `sparkform graph | dot -Tsvg`. */
void sf_graph_dot(const struct sf_graph *g, FILE *out);

#endif
