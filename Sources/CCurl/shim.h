#ifndef PARLEY_CCURL_SHIM_H
#define PARLEY_CCURL_SHIM_H

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot
// call. Each wrapper below fixes one argument type so the call is typed on the Swift side.

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_write_callback(CURL *handle, curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

static inline CURLcode ccurl_easy_setopt_header_callback(CURL *handle, curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

// Macros Swift cannot import, as values.

static inline CURLcode ccurl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

/// The value a write callback returns to pause its transfer (libcurl delivers the same bytes again
/// once the transfer is resumed).
static inline size_t ccurl_writefunc_pause(void) {
    return CURL_WRITEFUNC_PAUSE;
}

/// Resumes a paused transfer in both directions.
static inline CURLcode ccurl_easy_unpause(CURL *handle) {
    return curl_easy_pause(handle, CURLPAUSE_CONT);
}

/// The easy handle and result of a finished transfer, as read from curl_multi_info_read.
static inline int ccurl_multi_next_done(CURLM *multi, CURL **handle, CURLcode *result) {
    int queued = 0;
    CURLMsg *message;
    while ((message = curl_multi_info_read(multi, &queued)) != NULL) {
        if (message->msg == CURLMSG_DONE) {
            *handle = message->easy_handle;
            *result = message->data.result;
            return 1;
        }
    }
    return 0;
}

// The reactor drives libcurl with curl_multi_socket_action and its own epoll set, so each
// readable socket costs O(1), however many transfers are open (curl_multi_perform and
// curl_multi_poll walk every transfer on every wake-up). The epoll and eventfd plumbing is here
// because epoll_event is a packed struct that Swift cannot build portably.

static inline CURLMcode ccurl_multi_setopt_socket_callback(CURLM *multi, curl_socket_callback callback, void *userp) {
    CURLMcode code = curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback);
    return code != CURLM_OK ? code : curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, userp);
}

static inline CURLMcode ccurl_multi_setopt_timer_callback(CURLM *multi, curl_multi_timer_callback callback, void *userp) {
    CURLMcode code = curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback);
    return code != CURLM_OK ? code : curl_multi_setopt(multi, CURLMOPT_TIMERDATA, userp);
}

/// Lets libcurl run whatever its timer was set for (connects, timeouts, unpaused transfers).
static inline CURLMcode ccurl_multi_timeout_action(CURLM *multi, int *running) {
    return curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, running);
}

/// Names the calling thread as the kernel shows it (`/proc`, `top -H`, `perf`); at most 15 bytes
/// are kept. `pthread_setname_np` needs _GNU_SOURCE, which Swift's Glibc module does not define.
static inline void ccurl_name_current_thread(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

static inline int ccurl_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

static inline int ccurl_eventfd_create(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

static inline void ccurl_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t written = write(fd, &one, sizeof one);
    (void)written; // a full counter still wakes the reader
}

static inline void ccurl_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t got = read(fd, &value, sizeof value);
    (void)got;
}

/// Watches `fd` for what libcurl asked in its socket callback (CURL_POLL_IN, _OUT, _INOUT), or
/// stops watching it (CURL_POLL_REMOVE). Returns 0 or -1 with errno set.
static inline int ccurl_epoll_watch(int epfd, int fd, int what) {
    if (what == CURL_POLL_REMOVE) {
        return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    struct epoll_event event = {0};
    if (what & CURL_POLL_IN) event.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) event.events |= EPOLLOUT;
    event.data.fd = fd;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) == 0) return 0;
    return errno == ENOENT ? epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) : -1;
}

/// Waits up to `timeout` ms (-1: forever). Fills `fds` and, for each, libcurl's CURL_CSELECT_*
/// mask. Returns how many are ready, 0 on timeout, -1 on error (EINTR included).
static inline int ccurl_epoll_wait(int epfd, int *fds, int *masks, int capacity, int timeout) {
    struct epoll_event events[512];
    if (capacity > 512) capacity = 512;
    int count = epoll_wait(epfd, events, capacity, timeout);
    for (int i = 0; i < count; i++) {
        int mask = 0;
        if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
        fds[i] = events[i].data.fd;
        masks[i] = mask;
    }
    return count;
}

#endif
