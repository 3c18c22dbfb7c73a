//! The demo's endpoint in the foreground: served on the address the profiles are enrolled at
//! until Ctrl-C or SIGTERM, with the manifest saying so (`serving`, `pid`) meanwhile.

use std::path::Path;

use casebridge_agency::ServeConfig;
use casebridge_core::Passphrase;

use crate::error::{DemoError, Result};
use crate::manifest::{write_manifest, Manifest};
use crate::Event;

/// Serves the demo in `dir` until a signal stops it; `on` hears [`Event::Ready`] once the
/// endpoint listens and [`Event::Stopped`] after it stopped.
pub(crate) fn serve(dir: &Path, manifest: &mut Manifest, on: &mut dyn FnMut(Event<'_>) -> std::io::Result<()>) -> Result<()> {
    let rt = casebridge_app::sync::runtime()?;
    rt.block_on(async {
        let pass = Passphrase::new(manifest.passphrase.clone());
        let server = casebridge_agency::serve(ServeConfig::new(&manifest.agency, manifest.listen, pass))
            .await
            .map_err(|source| DemoError::EndpointStart { listen: manifest.listen, source })?;
        let signal = stop_signal()?;
        let stop = server.shutdown_handle();
        tokio::spawn(async move {
            signal.await;
            stop.shutdown();
        });
        manifest.serving = true;
        manifest.pid = Some(std::process::id());
        write_manifest(dir, manifest)?;
        on(Event::Ready { manifest, serving: true })?;
        let served = server.wait().await.map_err(DemoError::from);
        manifest.serving = false;
        manifest.pid = None;
        write_manifest(dir, manifest)?;
        served?;
        on(Event::Stopped)?;
        Ok(())
    })
}

/// Ctrl-C or SIGTERM, listened for from the moment this is called (so a signal that comes
/// right after "demo ready" is not missed).
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind| signal(kind).map_err(DemoError::Signal);
    let mut term = listen(SignalKind::terminate())?;
    let mut int = listen(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
