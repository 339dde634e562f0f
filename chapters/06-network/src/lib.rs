//! # Chapter 6: the network
pub mod attachment;
pub mod bridge;
pub mod dns;
pub mod files;
pub mod inspect;
pub mod ipam;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod ports;
pub mod records;
pub mod request;
pub mod state;
pub mod store;
pub mod subnet;
pub mod sysctl;
