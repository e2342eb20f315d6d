/* pilotctl: the command line of the registry cluster (DESIGN.md §8).
 *
 * main strips the global options from anywhere in argv (--json,
 * --registry, --admin-token-file, --timeout, --redirect), then dispatches
 * through the command table below to the group file that owns the command.
 * The same table prints the help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct ctl_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const char *summary;
};

static const struct ctl_command commands[] = {
    {"init", identity_main, "init [--registry H:P,...] [--force]",
     "create the Ed25519 identity and config in $PILOT_HOME"},
    {"identity", identity_main, "identity", "show the local identity (public key, paths)"},
    {"register", agent_main, "register [--hostname H] [--public] [--endpoint H:P]",
     "register this identity with the registry (returns node id and address)"},
    {"deregister", agent_main, "deregister", "remove this node from the registry"},
    {"whoami", agent_main, "whoami", "node id and address bound to this identity"},
    {"lookup", agent_main, "lookup <node>", "a node's public record"},
    {"find", agent_main, "find <hostname>", "find a node by hostname"},
    {"resolve", agent_main, "resolve <node>", "a node's endpoint, if you may reach it"},
    {"set-public", agent_main, "set-public", "make this node resolvable by everyone"},
    {"set-private", agent_main, "set-private", "make this node private (the default)"},
    {"set-hostname", agent_main, "set-hostname <hostname>", "set this node's hostname"},
    {"clear-hostname", agent_main, "clear-hostname", "remove this node's hostname"},
    {"set-tags", agent_main, "set-tags <tag>...", "replace this node's tags (none clears)"},
    {"rotate-key", agent_main, "rotate-key", "replace the identity key, keeping the node id"},
    {"handshake", trust_main, "handshake <node> [\"justification\"]",
     "ask a node for mutual trust"},
    {"pending", trust_main, "pending", "handshake requests waiting for you"},
    {"approve", trust_main, "approve <node>", "approve a pending handshake"},
    {"reject", trust_main, "reject <node> [\"reason\"]", "reject a pending handshake"},
    {"trust", trust_main, "trust", "list trusted peers"},
    {"untrust", trust_main, "untrust <node>", "revoke trust with a node"},
    {"network", network_main, "network <create|join|leave|invite|kick|members|list|delete|"
                              "policy|role|transfer|audit|blueprint> ...",
     "networks: membership, join rules, roles, policies (`pilotctl network help`)"},
    {"daemon", daemon_main, "daemon <start [--udp HOST:PORT]|stop|status>",
     "run, stop or inspect the local pilot-agent daemon"},
    {"send", dataplane_main, "send <node> <port> <message>", "send one datagram via the daemon"},
    {"listen", dataplane_main, "listen <port> [--echo] [--count N]",
     "print datagrams and stream data arriving on a port"},
    {"connect", dataplane_main, "connect <node> <port>",
     "open a stream: stdin to the peer, its answers to stdout"},
    {"cluster", cluster_main, "cluster <status|members|add|remove|transfer|snapshot> ...",
     "registry cluster administration (`pilotctl cluster help`)"},
};

static int help(FILE *f)
{
    fprintf(f, "usage: pilotctl [--json] [--registry H:P[,H:P...]] [--timeout SECONDS]\n"
               "                [--admin-token-file FILE] [--redirect] <command> [args]\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-44s %s\n", commands[i].usage, commands[i].summary);
    fprintf(f, "\nnode arguments take a node id (5), an address (0:0000.0000.0005) or a "
               "hostname.\n"
               "environment: PILOT_HOME (default ~/.pilot), PILOT_REGISTRY, "
               "PILOT_ADMIN_TOKEN.\n"
               "exit codes: 0 ok, 1 error, 2 usage, 3 cluster unreachable or no leader.\n");
    return CTL_EXIT_OK;
}

/* Remove the global options from argv in place; returns the new argc or
 * -1 after printing a usage error. */
static int strip_globals(int argc, char **argv)
{
    int out = 1;
    uint64_t secs;

    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        const char **slot = NULL;
        const char *val = NULL;
        size_t nl = 0;
        static const char *const names[] = {"--registry", "--admin-token-file", "--timeout"};

        if (strcmp(w, "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(w, "--json") == 0) {
            ctl_g.json = true;
            continue;
        }
        if (strcmp(w, "--redirect") == 0) {
            ctl_g.redirect = true;
            continue;
        }
        for (size_t k = 0; k < 3; k++) {
            nl = strlen(names[k]);
            if (strncmp(w, names[k], nl) == 0 && (w[nl] == '\0' || w[nl] == '=')) {
                if (w[nl] == '=')
                    val = w + nl + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return ctl_usage("pilotctl --help", "option %s needs a value", names[k]),
                           -1;
                slot = k == 0 ? &ctl_g.registry : k == 1 ? &ctl_g.admin_token_file : NULL;
                if (k == 2) {
                    if (!ctl_parse_uint(val, 1, 3600, &secs))
                        return ctl_usage("--timeout SECONDS (1-3600)", "bad timeout \"%s\"",
                                         val),
                               -1;
                    ctl_g.timeout_ms = (uint32_t)secs * 1000u;
                }
                break;
            }
        }
        if (val != NULL) {
            if (slot != NULL)
                *slot = val;
            continue;
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    argc = strip_globals(argc, argv);
    if (argc < 0)
        return CTL_EXIT_USAGE;
    if (argc < 2) {
        help(stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0)
        return help(stdout);
    /* Group spellings: `pilotctl agent register` = `pilotctl register`,
     * `pilotctl trust approve 5` = `pilotctl approve 5` (`pilotctl trust`
     * alone, or `trust list`, lists the trusted peers). */
    if (argc >= 3 && (strcmp(argv[1], "agent") == 0 ||
                      (strcmp(argv[1], "trust") == 0 && argv[2][0] != '-'))) {
        int (*group)(int, char **) = strcmp(argv[1], "agent") == 0 ? agent_main : trust_main;
        if (group == trust_main && strcmp(argv[2], "list") == 0)
            argv[2] = "trust";
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
            if (commands[i].fn == group && strcmp(argv[2], commands[i].name) == 0) {
                argc--;
                argv++;
                break;
            }
        }
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        for (int k = 2; k < argc; k++) {
            if ((strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) &&
                commands[i].fn != network_main && commands[i].fn != cluster_main) {
                printf("usage: pilotctl %s\n  %s\n", commands[i].usage, commands[i].summary);
                return CTL_EXIT_OK;
            }
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    return ctl_usage("pilotctl --help", "unknown command \"%s\"", argv[1]);
}
