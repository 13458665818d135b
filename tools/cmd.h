/* The subcommand table: one file per subcommand (tools/<name>.c) defines
 * cmd_<name>() and its usage text; main.c dispatches by name.
 *
 * A command gets argv with argv[0] = the subcommand name, parses its own
 * options (getopt_long; every command accepts --help / -h and prints its
 * usage to stdout, returning 0), writes results to stdout, and returns 0 or
 * a negative value with *err set.  It never calls exit() and never prints
 * an error itself. */
#ifndef LAYERFS_CMD_H
#define LAYERFS_CMD_H

#include "error.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv, error **err);
	const char *summary;
};

/* Returns 1 if argv asks for --help / -h anywhere before a "--"; helper for
 * commands whose own parsing would otherwise reject it. */
int cmd_wants_help(int argc, char **argv);
/* Prints usage to stdout. */
void cmd_print_usage(const char *usage);

#define LAYERFS_COMMANDS(X)                                                                        \
	X(build, "Build an image from a Dockerfile")                                               \
	X(history, "Show the history of an image")                                                 \
	X(images, "List images in the store")                                                      \
	X(import, "Create an image from a root filesystem tarball")                                \
	X(tag, "Give an image another name")                                                       \
	X(rmi, "Remove images")                                                                    \
	X(inspect, "Show an image's configuration and layers as JSON")                             \
	X(ls, "List a directory of an image without mounting it")                                  \
	X(cat, "Print a file of an image without mounting it")                                     \
	X(find, "Find files in an image by name, type, size or mtime")                             \
	X(grep, "Search file contents of an image")                                                \
	X(which, "Show every layer that touched a path, with its history step")                    \
	X(layers, "Per-layer sizes, entries, history and wasted space of an image")                \
	X(diff, "Changes between two images, or in an upper directory or mount")                   \
	X(commit, "Turn an upper directory into a layer, or a new image with it on top")           \
	X(mount, "Mount an image (or bare tar layers) with FUSE")                                  \
	X(umount, "Unmount a layerfs mount")                                                       \
	X(export, "Write an image's merged root file system as one tar")                           \
	X(save, "Write images to a tar archive (docker load and OCI tools read it)")               \
	X(load, "Load images from a docker-save or OCI archive, or an OCI layout directory")       \
	X(pull, "Download an image from a registry")                                               \
	X(push, "Upload an image to a registry")                                                   \
	X(login, "Keep credentials for a registry")                                                \
	X(logout, "Remove the credentials kept for a registry")                                    \
	X(search, "List a registry's repositories matching a term, with tags")                     \
	X(run, "Create a container from an image and run its command")                             \
	X(exec, "Run a command in a running container")                                            \
	X(ps, "List containers")                                                                   \
	X(start, "Run a stopped container again, with its earlier changes")                        \
	X(stop, "Stop running containers (stop signal, then SIGKILL)")                             \
	X(kill, "Send a signal to running containers")                                             \
	X(rm, "Remove containers and their writable layers")                                       \
	X(cp, "Copy files between a container (or image) and the host")                            \
	X(logs, "Show the output of a container")                                                  \
	X(container, "Manage containers: ls, prune, ...")                                          \
	X(image, "Manage images: prune, ls")                                                       \
	X(system, "Store-wide: df (disk usage), prune (remove what is unused)")                    \
	X(builder, "Build cache: prune")                                                           \
	X(fsck, "Check the store; --repair fixes what is safe to fix")

#define X(n, s) int cmd_##n(int argc, char **argv, error **err);
LAYERFS_COMMANDS(X)
#undef X

#endif
