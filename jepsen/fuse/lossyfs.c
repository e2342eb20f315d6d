/* pilot-lossyfs: a FUSE passthrough that loses un-fsynced writes on demand
 * (issue 7 item 2; the lazyfs-like fault of fault-injection.md §5.4).
 *
 *   pilot-lossyfs BACKING_DIR MOUNTPOINT [--ignore-fsync] [--sync-delay-ms N]
 *
 * Data written to a file stays in this process's memory ("page cache")
 * until the file is fsynced/fdatasynced, or was opened with O_SYNC/O_DSYNC
 * (then each write goes straight to BACKING_DIR and is synced). SIGUSR1 is a
 * power loss: every un-synced byte is forgotten, as if the machine crashed.
 * Metadata operations (create, rename, unlink, truncate, fallocate) go to
 * the backing directory at once: only file data is lossy (a documented
 * limit of this layer; lazyfs also drops un-synced directory entries).
 * --ignore-fsync (and builds with -DPILOT_CANARY=NO_FSYNC) turn fsync and
 * O_DSYNC into no-ops: the "fsync skipped" canary. --sync-delay-ms makes
 * every fsync and synchronous write take N ms longer (a slow disk): commits
 * slow down, so more writes are in flight when a fault strikes.
 *
 * Kernel caching is off (direct_io, zero attribute/entry timeouts) so that
 * what a reader sees is exactly this layer's view. One mutex guards the
 * dirty state; the FUSE loop is multi-threaded. Prefix: lfs_. */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* One contiguous run of dirty bytes. Extents of a file never overlap and
 * are kept sorted by offset. */
struct lfs_ext {
    off_t off;
    size_t len;
    char *buf;
};

struct lfs_file {
    char *path;                 /* relative to the mount, e.g. "/open-1" */
    struct lfs_ext *ext;
    size_t n, cap;
    struct lfs_file *next;
};

static char lfs_backing[PATH_MAX];
static int lfs_ignore_fsync;
static unsigned lfs_sync_delay_ms;

static void lfs_slow_disk(void)
{
    if (lfs_sync_delay_ms > 0) {
        struct timespec ts = {lfs_sync_delay_ms / 1000,
                              (long)(lfs_sync_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}
static struct lfs_file *lfs_files;
static pthread_mutex_t lfs_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int lfs_crash;
static atomic_ulong lfs_dropped_bytes;

static void lfs_real(const char *path, char out[PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s%s", lfs_backing, path);
}

static void lfs_file_free(struct lfs_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->ext[i].buf);
    }
    free(f->ext);
    free(f->path);
    free(f);
}

/* Called with lfs_mu held at the start of every op: a pending power loss
 * takes effect before anything else is served. */
static void lfs_apply_crash(void)
{
    if (!atomic_exchange(&lfs_crash, 0)) {
        return;
    }
    unsigned long bytes = 0;
    while (lfs_files != NULL) {
        struct lfs_file *f = lfs_files;
        lfs_files = f->next;
        for (size_t i = 0; i < f->n; i++) {
            bytes += f->ext[i].len;
        }
        lfs_file_free(f);
    }
    atomic_fetch_add(&lfs_dropped_bytes, bytes);
    fprintf(stderr, "pilot-lossyfs: power loss: dropped %lu un-synced bytes\n", bytes);
    fflush(stderr);
}

static struct lfs_file *lfs_find(const char *path, int create)
{
    struct lfs_file *f;
    for (f = lfs_files; f != NULL; f = f->next) {
        if (strcmp(f->path, path) == 0) {
            return f;
        }
    }
    if (!create) {
        return NULL;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL || (f->path = strdup(path)) == NULL) {
        free(f);
        return NULL;
    }
    f->next = lfs_files;
    lfs_files = f;
    return f;
}

static void lfs_forget(const char *path)
{
    struct lfs_file **pp;
    for (pp = &lfs_files; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->path, path) == 0) {
            struct lfs_file *f = *pp;
            *pp = f->next;
            lfs_file_free(f);
            return;
        }
    }
}

static off_t lfs_dirty_end(const struct lfs_file *f)
{
    return f == NULL || f->n == 0 ? 0 : f->ext[f->n - 1].off + (off_t)f->ext[f->n - 1].len;
}

static int lfs_ext_insert(struct lfs_file *f, size_t at, off_t off, const char *src, size_t len)
{
    char *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        return -ENOMEM;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        struct lfs_ext *e = realloc(f->ext, cap * sizeof *e);
        if (e == NULL) {
            free(buf);
            return -ENOMEM;
        }
        f->ext = e;
        f->cap = cap;
    }
    memcpy(buf, src, len);
    memmove(&f->ext[at + 1], &f->ext[at], (f->n - at) * sizeof *f->ext);
    f->ext[at] = (struct lfs_ext){off, len, buf};
    f->n++;
    return 0;
}

/* Cut [off, end) out of every extent, splitting where needed. */
static int lfs_ext_cut(struct lfs_file *f, off_t off, off_t end)
{
    for (size_t i = 0; i < f->n; i++) {
        struct lfs_ext *e = &f->ext[i];
        off_t eo = e->off, ee = e->off + (off_t)e->len;
        if (ee <= off || eo >= end) {
            continue;
        }
        if (eo < off && ee > end) {
            /* The cut is inside: keep the head here, insert the tail. */
            int rv = lfs_ext_insert(f, i + 1, end, e->buf + (end - eo), (size_t)(ee - end));
            if (rv != 0) {
                return rv;
            }
            f->ext[i].len = (size_t)(off - eo);
            return 0;
        }
        if (eo < off) {
            e->len = (size_t)(off - eo);
        } else if (ee > end) {
            memmove(e->buf, e->buf + (end - eo), (size_t)(ee - end));
            e->off = end;
            e->len = (size_t)(ee - end);
        } else {
            free(e->buf);
            memmove(e, e + 1, (f->n - i - 1) * sizeof *e);
            f->n--;
            i--;
        }
    }
    return 0;
}

static int lfs_ext_write(struct lfs_file *f, off_t off, const char *src, size_t len)
{
    size_t at = 0;
    int rv;
    /* Appending right after the last extent (raft's pattern): grow it. */
    if (f->n > 0) {
        struct lfs_ext *last = &f->ext[f->n - 1];
        if (last->off + (off_t)last->len == off) {
            char *nb = realloc(last->buf, last->len + len);
            if (nb == NULL) {
                return -ENOMEM;
            }
            memcpy(nb + last->len, src, len);
            last->buf = nb;
            last->len += len;
            return 0;
        }
    }
    rv = lfs_ext_cut(f, off, off + (off_t)len);
    if (rv != 0) {
        return rv;
    }
    while (at < f->n && f->ext[at].off < off) {
        at++;
    }
    return lfs_ext_insert(f, at, off, src, len);
}

/* Write f's dirty data to fd and fsync it. */
static int lfs_flush(struct lfs_file *f, int fd)
{
    for (size_t i = 0; f != NULL && i < f->n; i++) {
        size_t done = 0;
        while (done < f->ext[i].len) {
            ssize_t w = pwrite(fd, f->ext[i].buf + done, f->ext[i].len - done,
                               f->ext[i].off + (off_t)done);
            if (w < 0) {
                return -errno;
            }
            done += (size_t)w;
        }
    }
    if (f != NULL) {
        lfs_forget(f->path);
    }
    return fsync(fd) == 0 ? 0 : -errno;
}

/* ---- FUSE operations ------------------------------------------------------ */

#define LFS_BEGIN()                   \
    pthread_mutex_lock(&lfs_mu);      \
    lfs_apply_crash()
#define LFS_END() pthread_mutex_unlock(&lfs_mu)

static void *lfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->direct_io = 1;
    cfg->attr_timeout = 0;
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->use_ino = 1;
    return NULL;
}

static int lfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    char real[PATH_MAX];
    int rv = 0;
    (void)fi;
    lfs_real(path, real);
    LFS_BEGIN();
    if (lstat(real, st) != 0) {
        rv = -errno;
    } else {
        off_t end = lfs_dirty_end(lfs_find(path, 0));
        if (end > st->st_size) {
            st->st_size = end;
        }
    }
    LFS_END();
    return rv;
}

static int lfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    char real[PATH_MAX];
    DIR *d;
    struct dirent *de;
    (void)off;
    (void)fi;
    (void)flags;
    lfs_real(path, real);
    d = opendir(real);
    if (d == NULL) {
        return -errno;
    }
    while ((de = readdir(d)) != NULL) {
        if (fill(buf, de->d_name, NULL, 0, 0) != 0) {
            break;
        }
    }
    closedir(d);
    return 0;
}

static int lfs_open_common(const char *path, struct fuse_file_info *fi, mode_t mode, int create)
{
    char real[PATH_MAX];
    /* O_DIRECT is meaningless through this layer (direct_io already). */
    int flags = fi->flags & ~O_DIRECT;
    int fd;
    lfs_real(path, real);
    fd = create ? open(real, flags | O_CREAT, mode) : open(real, flags);
    if (fd < 0) {
        return -errno;
    }
    fi->fh = (uint64_t)fd;
    fi->direct_io = 1;
    if (fi->flags & O_TRUNC) {
        LFS_BEGIN();
        lfs_forget(path);
        LFS_END();
    }
    return 0;
}

static int lfs_open(const char *path, struct fuse_file_info *fi)
{
    return lfs_open_common(path, fi, 0, 0);
}

static int lfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    return lfs_open_common(path, fi, mode, 1);
}

static int lfs_read(const char *path, char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct stat st;
    ssize_t got;
    size_t len = size;
    off_t end;
    struct lfs_file *f;
    int fd = (int)fi->fh;

    LFS_BEGIN();
    f = lfs_find(path, 0);
    if (fstat(fd, &st) != 0) {
        LFS_END();
        return -errno;
    }
    end = st.st_size > lfs_dirty_end(f) ? st.st_size : lfs_dirty_end(f);
    if (off >= end) {
        LFS_END();
        return 0;
    }
    if ((off_t)len > end - off) {
        len = (size_t)(end - off);
    }
    memset(buf, 0, len);
    got = pread(fd, buf, len, off);
    if (got < 0) {
        LFS_END();
        return -errno;
    }
    for (size_t i = 0; f != NULL && i < f->n; i++) {
        off_t lo = f->ext[i].off > off ? f->ext[i].off : off;
        off_t hi = f->ext[i].off + (off_t)f->ext[i].len;
        if (hi > off + (off_t)len) {
            hi = off + (off_t)len;
        }
        if (lo < hi) {
            memcpy(buf + (lo - off), f->ext[i].buf + (lo - f->ext[i].off), (size_t)(hi - lo));
        }
    }
    LFS_END();
    return (int)len;
}

static int lfs_write(const char *path, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    int fd = (int)fi->fh, rv;
    int sync = (fi->flags & (O_DSYNC | O_SYNC)) != 0 && !lfs_ignore_fsync;
    struct lfs_file *f;

    if (sync) {
        lfs_slow_disk();
    }
    LFS_BEGIN();
    if (sync) {
        /* A synchronous write is durable when it returns: older dirty data
         * of the range must not shadow it, and it reaches the disk now. */
        f = lfs_find(path, 0);
        rv = f != NULL ? lfs_ext_cut(f, off, off + (off_t)size) : 0;
        if (rv == 0) {
            ssize_t w = pwrite(fd, buf, size, off);
            rv = w < 0 ? -errno : (int)w;
            if (rv >= 0 && fdatasync(fd) != 0) {
                rv = -errno;
            }
        }
    } else {
        f = lfs_find(path, 1);
        rv = f == NULL ? -ENOMEM : lfs_ext_write(f, off, buf, size);
        if (rv == 0) {
            rv = (int)size;
        }
    }
    LFS_END();
    return rv;
}

static int lfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    int rv = 0;
    (void)datasync;
    if (lfs_ignore_fsync) {
        return 0;
    }
    lfs_slow_disk();
    LFS_BEGIN();
    rv = lfs_flush(lfs_find(path, 0), (int)fi->fh);
    LFS_END();
    return rv;
}

static int lfs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    char real[PATH_MAX];
    int fd, rv = 0;
    (void)datasync;
    (void)fi;
    lfs_real(path, real);
    fd = open(real, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        return -errno;
    }
    if (!lfs_ignore_fsync && fsync(fd) != 0) {
        rv = -errno;
    }
    close(fd);
    return rv;
}

static int lfs_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    /* Closing does not write back: dirty data stays "in the page cache". */
    close((int)fi->fh);
    return 0;
}

static int lfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    char real[PATH_MAX];
    struct lfs_file *f;
    int rv;
    lfs_real(path, real);
    LFS_BEGIN();
    rv = (fi != NULL ? ftruncate((int)fi->fh, size) : truncate(real, size)) == 0 ? 0 : -errno;
    f = lfs_find(path, 0);
    if (rv == 0 && f != NULL) {
        rv = lfs_ext_cut(f, size, (off_t)1 << 62);
    }
    LFS_END();
    return rv;
}

static int lfs_fallocate(const char *path, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi)
{
    (void)path;
    return fallocate((int)fi->fh, mode, off, len) == 0 ? 0 : -errno;
}

static int lfs_unlink(const char *path)
{
    char real[PATH_MAX];
    int rv;
    lfs_real(path, real);
    LFS_BEGIN();
    rv = unlink(real) == 0 ? 0 : -errno;
    if (rv == 0) {
        lfs_forget(path);
    }
    LFS_END();
    return rv;
}

static int lfs_rename(const char *from, const char *to, unsigned int flags)
{
    char rf[PATH_MAX], rt[PATH_MAX];
    int rv;
    lfs_real(from, rf);
    lfs_real(to, rt);
    LFS_BEGIN();
    rv = renameat2(AT_FDCWD, rf, AT_FDCWD, rt, flags) == 0 ? 0 : -errno;
    if (rv == 0) {
        struct lfs_file *f;
        lfs_forget(to);
        f = lfs_find(from, 0);
        if (f != NULL) {
            char *p = strdup(to);
            if (p != NULL) {
                free(f->path);
                f->path = p;
            }
        }
    }
    LFS_END();
    return rv;
}

static int lfs_mkdir(const char *path, mode_t mode)
{
    char real[PATH_MAX];
    lfs_real(path, real);
    return mkdir(real, mode) == 0 ? 0 : -errno;
}

static int lfs_rmdir(const char *path)
{
    char real[PATH_MAX];
    lfs_real(path, real);
    return rmdir(real) == 0 ? 0 : -errno;
}

static int lfs_access(const char *path, int mask)
{
    char real[PATH_MAX];
    lfs_real(path, real);
    return access(real, mask) == 0 ? 0 : -errno;
}

static int lfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    char real[PATH_MAX];
    (void)fi;
    lfs_real(path, real);
    return chmod(real, mode) == 0 ? 0 : -errno;
}

static int lfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    char real[PATH_MAX];
    (void)fi;
    lfs_real(path, real);
    return utimensat(AT_FDCWD, real, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int lfs_statfs(const char *path, struct statvfs *st)
{
    char real[PATH_MAX];
    lfs_real(path, real);
    return statvfs(real, st) == 0 ? 0 : -errno;
}

static const struct fuse_operations lfs_ops = {
    .init = lfs_init,
    .getattr = lfs_getattr,
    .readdir = lfs_readdir,
    .open = lfs_open,
    .create = lfs_create,
    .read = lfs_read,
    .write = lfs_write,
    .fsync = lfs_fsync,
    .fsyncdir = lfs_fsyncdir,
    .release = lfs_release,
    .truncate = lfs_truncate,
    .fallocate = lfs_fallocate,
    .unlink = lfs_unlink,
    .rename = lfs_rename,
    .mkdir = lfs_mkdir,
    .rmdir = lfs_rmdir,
    .access = lfs_access,
    .chmod = lfs_chmod,
    .utimens = lfs_utimens,
    .statfs = lfs_statfs,
};

/* SIGUSR1 is taken synchronously by this thread (blocked everywhere else),
 * so the loss is complete before the "power loss" line is logged, and the
 * orchestrator can wait for that line before restarting the node. */
static void *lfs_signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig;
    for (;;) {
        if (sigwait(set, &sig) == 0 && sig == SIGUSR1) {
            pthread_mutex_lock(&lfs_mu);
            atomic_store(&lfs_crash, 1);
            lfs_apply_crash();
            pthread_mutex_unlock(&lfs_mu);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char *fargv[8];
    int fargc = 0, rv;
    static sigset_t usr1;
    pthread_t sig_th;

#ifdef PILOT_CANARY_NO_FSYNC
    lfs_ignore_fsync = 1;
#endif
    if (argc < 3) {
        fprintf(stderr, "usage: pilot-lossyfs BACKING_DIR MOUNTPOINT [--ignore-fsync] "
                        "[--sync-delay-ms N]\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--ignore-fsync") == 0) {
            lfs_ignore_fsync = 1;
        } else if (strcmp(argv[i], "--sync-delay-ms") == 0 && i + 1 < argc) {
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || v > 10000) {
                fprintf(stderr, "pilot-lossyfs: --sync-delay-ms takes 0..10000\n");
                return 2;
            }
            lfs_sync_delay_ms = (unsigned)v;
        } else {
            fprintf(stderr, "pilot-lossyfs: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (realpath(argv[1], lfs_backing) == NULL) {
        fprintf(stderr, "pilot-lossyfs: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    pthread_create(&sig_th, NULL, lfs_signal_thread, &usr1);
    pthread_detach(sig_th);
    fargv[fargc++] = argv[0];
    fargv[fargc++] = argv[2];
    fargv[fargc++] = "-f";
    fargv[fargc++] = "-o";
    fargv[fargc++] = "fsname=pilot-lossyfs,max_threads=16";
    fargv[fargc] = NULL;
    fprintf(stderr, "pilot-lossyfs: %s -> %s%s\n", argv[2], lfs_backing,
            lfs_ignore_fsync ? " (fsync ignored)" : "");
    rv = fuse_main(fargc, fargv, &lfs_ops, NULL);
    pthread_mutex_lock(&lfs_mu);
    while (lfs_files != NULL) {
        struct lfs_file *f = lfs_files;
        lfs_files = f->next;
        lfs_file_free(f);
    }
    pthread_mutex_unlock(&lfs_mu);
    return rv;
}
