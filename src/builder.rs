//! `with_*` builder methods for the public configuration structs.
//!
//! The configuration structs are `#[non_exhaustive]`, so a field can be added
//! without breaking anyone: code outside the crate cannot write their struct
//! literals, and starts from `Default` (or a `new`/named constructor) and
//! sets what it needs with these methods, e.g.
//! `NodeConfig::default().with_port(8090).with_http(addr)`. The fields stay
//! public for reading and for `config.field = value` on a `mut` binding.
//!
//! A declarative macro rather than a builder crate: the methods are one line
//! each, and the gossip core's configuration must build without `std` or a
//! proc-macro dependency.

/// `with_fields!(Type { with_a => a: A, with_s => s: into S, with_b => b: [B] })`
/// writes, per field, `pub fn with_a(self, value: A) -> Self`; an `into S`
/// field takes `impl Into<S>` (strings, options, providers: where the
/// conversion is unambiguous, unlike integer literals); a `[B]` field (a
/// `Vec<B>`) takes any `IntoIterator` of `impl Into<B>` and replaces the whole
/// list.
macro_rules! with_fields {
    ($ty:ty { $($fields:tt)* }) => {
        impl $ty {
            with_fields!(@field $($fields)*);
        }
    };
    (@field) => {};
    (@field $with:ident => $field:ident : [$item:ty] $(, $($rest:tt)*)?) => {
        #[doc = concat!(
            "Returns this configuration with `", stringify!($field), "` replaced by `values`."
        )]
        #[must_use]
        pub fn $with(mut self, values: impl IntoIterator<Item = impl Into<$item>>) -> Self {
            self.$field = values.into_iter().map(Into::into).collect();
            self
        }
        with_fields!(@field $($($rest)*)?);
    };
    (@field $with:ident => $field:ident : into $fty:ty $(, $($rest:tt)*)?) => {
        #[doc = concat!(
            "Returns this configuration with `", stringify!($field), "` set to `value`."
        )]
        #[must_use]
        pub fn $with(mut self, value: impl Into<$fty>) -> Self {
            self.$field = value.into();
            self
        }
        with_fields!(@field $($($rest)*)?);
    };
    (@field $with:ident => $field:ident : $fty:ty $(, $($rest:tt)*)?) => {
        #[doc = concat!(
            "Returns this configuration with `", stringify!($field), "` set to `value`."
        )]
        #[must_use]
        pub fn $with(mut self, value: $fty) -> Self {
            self.$field = value;
            self
        }
        with_fields!(@field $($($rest)*)?);
    };
}
