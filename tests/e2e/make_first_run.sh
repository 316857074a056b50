# The first `make` on a machine without the -dev packages: the goal must be
# built with the link flags that exist once scripts/install-deps has run,
# not with what pkg-config said before it. A fake pkg-config answers only
# after a fake install step ran; the build's link flags must carry its libs.
# e2e: alone
. "$ROOT/tests/e2e/lib.sh"
mkdir -p fakebin
cat > fakebin/pkg-config <<SH
#!/bin/sh
[ -f "$WORK/installed" ] || { echo "Package yaml-0.1 was not found" >&2; exit 1; }
case " \$* " in *" --libs "*) echo "-lfake-installed" ;; esac
exit 0
SH
chmod +x fakebin/pkg-config
# A make started from make test must not inherit its parent's pass.
unset MAKEFLAGS MFLAGS MAKELEVEL SF_DEPS_DONE
run env PATH="$WORK/fakebin:$PATH" make -s -C "$ROOT" BUILD="$WORK/build" \
  INSTALL_DEPS="touch $WORK/installed" show-flags
expect_rc 0
[ -f installed ] || fail "make did not run the install step"
expect_out "LDLIBS=-lfake-installed"

# Without the install step's packages the flags stay empty: the test can fail.
rm -f installed
run env PATH="$WORK/fakebin:$PATH" make -s -C "$ROOT" BUILD="$WORK/build" INSTALL_DEPS=true show-flags
expect_rc 0
expect_no_out "-lfake-installed"
