/* notify.c: the systemd readiness protocol without libsystemd: one datagram
 * with "READY=1" or "STOPPING=1" to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server.h"

int srv_notify(const char *state, char errmsg[static REG_ERRMSG_SIZE])
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t plen;
    int fd = -1, rv = REG_OK;
    if (path == NULL || path[0] == '\0') {
        goto out;
    }
    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof sa.sun_path) {
        reg_errmsgf(errmsg, "NOTIFY_SOCKET '%.80s' is not a socket path or @name", path);
        rv = REG_UNAVAILABLE;
        goto out;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, plen);
    if (path[0] == '@') {
        sa.sun_path[0] = '\0';
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        reg_errmsgf(errmsg, "socket: %s", strerror(errno));
        rv = REG_UNAVAILABLE;
        goto out;
    }
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen)) < 0) {
        reg_errmsgf(errmsg, "send to %s: %s", path, strerror(errno));
        rv = REG_UNAVAILABLE;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return rv;
}
