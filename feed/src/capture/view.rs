//! Fixed-layout, bounds-checked views of wire records, shared by the venue decoders.
//!
//! `view!` declares `struct Name<'a>(&'a [u8; LEN])` with one accessor per field. The only
//! length check is in `Name::new`; every field offset is checked against `LEN` at compile time,
//! so the accessors cannot read out of bounds and compile to plain loads.

/// Reads a little- or big-endian integer at a fixed offset (used by `view!`).
macro_rules! rd {
    ($b:expr, $off:expr, u8) => {
        $b[$off]
    };
    ($b:expr, $off:expr, be48) => {{
        let mut a = [0u8; 8];
        a[2..].copy_from_slice(&$b[$off..$off + 6]);
        u64::from_be_bytes(a)
    }};
    ($b:expr, $off:expr, bytes4) => {{
        let mut a = [0u8; 4];
        a.copy_from_slice(&$b[$off..$off + 4]);
        a
    }};
    ($b:expr, $off:expr, bytes8) => {{
        let mut a = [0u8; 8];
        a.copy_from_slice(&$b[$off..$off + 8]);
        a
    }};
    ($b:expr, $off:expr, $t:ident, $conv:ident) => {{
        const N: usize = core::mem::size_of::<$t>();
        let mut a = [0u8; N];
        a.copy_from_slice(&$b[$off..$off + N]);
        $t::$conv(a)
    }};
}
pub(crate) use rd;

/// Declares a fixed-length view. Field kinds: `u8`, `bytes4`, `bytes8`, `be48` (6-byte
/// big-endian, read as `u64`), `le u16|u32|u64|i64|i32`, `be u16|u32|u64|...`.
macro_rules! view {
    (@ty u8) => { u8 };
    (@ty bytes4) => { [u8; 4] };
    (@ty be48) => { u64 };
    (@sz be48) => { 6 };
    (@sz u8) => { 1 };
    (@sz bytes4) => { 4 };
    (@sz bytes8) => { 8 };
    (@sz le $t:ident) => { core::mem::size_of::<$t>() };
    (@sz be $t:ident) => { core::mem::size_of::<$t>() };
    (@ty bytes8) => { [u8; 8] };
    (@ty le $t:ident) => { $t };
    (@ty be $t:ident) => { $t };
    (@get $b:expr, $off:expr, u8) => { $crate::capture::view::rd!($b, $off, u8) };
    (@get $b:expr, $off:expr, be48) => { $crate::capture::view::rd!($b, $off, be48) };
    (@get $b:expr, $off:expr, bytes4) => { $crate::capture::view::rd!($b, $off, bytes4) };
    (@get $b:expr, $off:expr, bytes8) => { $crate::capture::view::rd!($b, $off, bytes8) };
    (@get $b:expr, $off:expr, le $t:ident) => { $crate::capture::view::rd!($b, $off, $t, from_le_bytes) };
    (@get $b:expr, $off:expr, be $t:ident) => { $crate::capture::view::rd!($b, $off, $t, from_be_bytes) };
    (
        $(#[$m:meta])*
        $name:ident [$len:expr] {
            $( $(#[$fm:meta])* $field:ident @ $off:literal : $($kind:ident)+ ; )*
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        #[repr(transparent)]
        pub struct $name<'a>(&'a [u8; $len]);

        // One field of 1 byte makes this `off + 1 <= len`, which is the clearest form here.
        #[allow(clippy::int_plus_one)]
        const _: () = {
            $( assert!($off + $crate::capture::view::view!(@sz $($kind)+) <= $len); )*
        };

        impl<'a> $name<'a> {
            /// Length of the record on the wire.
            pub const LEN: usize = $len;

            /// A view of the first `LEN` bytes of `b`; `None` if `b` is shorter.
            #[inline]
            pub fn new(b: &'a [u8]) -> Option<Self> {
                match b.get(..$len) {
                    Some(s) => <&[u8; $len]>::try_from(s).ok().map(Self),
                    None => None,
                }
            }

            /// The record's bytes.
            #[inline]
            pub fn bytes(&self) -> &'a [u8; $len] {
                self.0
            }

            $(
                $(#[$fm])*
                #[inline]
                pub fn $field(&self) -> $crate::capture::view::view!(@ty $($kind)+) {
                    $crate::capture::view::view!(@get self.0, $off, $($kind)+)
                }
            )*
        }

        impl core::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    $( .field(stringify!($field), &self.$field()) )*
                    .finish()
            }
        }
    };
}
pub(crate) use view;

/// An 8-byte space-padded ASCII symbol as text (trailing spaces and NULs removed; non-ASCII
/// bytes kept as the replacement character).
pub fn symbol_str(raw: &[u8]) -> String {
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |p| p + 1);
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    view! {
        /// test view
        T [12] {
            /// a
            a @ 0: u8;
            /// b
            b @ 1: le u16;
            /// c
            c @ 3: be u32;
            /// d
            d @ 4: bytes8;
        }
    }

    #[test]
    fn reads_fields() {
        let bytes = [1u8, 2, 3, 0, 0, 1, 4, 5, 6, 7, 8, 9, 99];
        let t = T::new(&bytes).unwrap();
        assert_eq!(t.a(), 1);
        assert_eq!(t.b(), 0x0302);
        assert_eq!(t.c(), 0x0000_0104);
        assert_eq!(t.d(), [0, 1, 4, 5, 6, 7, 8, 9]);
        assert!(T::new(&bytes[..11]).is_none());
        assert_eq!((T::LEN, &t.bytes()[..]), (12, &bytes[..12]));
        assert_eq!(super::symbol_str(b"AAPL    "), "AAPL");
        assert_eq!(super::symbol_str(b"        "), "");
    }
}
