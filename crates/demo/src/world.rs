//! Making the demo world: the agency, the endpoint serving it during the setup, and the
//! whole loop played through the shared use cases (`casebridge_app`), as the CLI and the
//! desktop app run it: enrolment with invite codes, cases with notes and photos, briefs,
//! submissions, reviews, and the syncs between them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use casebridge_agency::{admin, ServeConfig};
use casebridge_app::import::{import_files, Checked};
use casebridge_app::{BriefInput, GeoPoint, ReviewDecision, Role, Session, SubmitInput};
use casebridge_core::{EvidenceOptions, KdfParams, Passphrase};
use casebridge_protocol::{InviteRequest, InviteResponse};
use casebridge_trust::Agency;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use uuid::Uuid;

use crate::error::{DemoError, Result};
use crate::manifest::{write_manifest, Manifest, Summary, MANIFEST_VERSION, MARKER_FILE};
use crate::photos::{berlin, write_photos, Photos};
use crate::{AGENCY_NAME, DEMO_PASSPHRASE, INVESTIGATOR, VOLUNTEER};

/// Creates the demo in the empty directory `dir` with the endpoint listening on `listen`
/// during the setup (a port 0 is replaced by the port chosen), and writes the manifest. The
/// endpoint is stopped again before this returns, and every store is closed.
pub(crate) fn create(dir: &Path, listen: SocketAddr, kdf: KdfParams) -> Result<Manifest> {
    std::fs::write(dir.join(MARKER_FILE), b"a Casebridge demo directory (casebridge demo)\n")
        .map_err(|source| DemoError::WriteFile { path: dir.join(MARKER_FILE), source })?;
    let pass = Passphrase::new(DEMO_PASSPHRASE);
    let agency_dir = dir.join("agency");
    drop(Agency::init(&agency_dir, AGENCY_NAME, &pass, kdf)?);
    let photos = write_photos(&dir.join("photos"))?;

    let rt = casebridge_app::sync::runtime()?;
    let mut config = ServeConfig::new(&agency_dir, listen, pass);
    config.kdf = kdf;
    let server = rt.block_on(casebridge_agency::serve(config))?;
    let bound = server.local_addr();
    let endpoint = server.url().to_string();

    let result = populate(&rt, dir, &agency_dir, &photos, kdf);
    let stopped = rt.block_on(server.shutdown()).map_err(DemoError::from);
    let summary = result?;
    stopped?;

    let m = Manifest {
        version: MANIFEST_VERSION,
        endpoint,
        listen: bound,
        passphrase: DEMO_PASSPHRASE.into(),
        agency: agency_dir,
        investigator: dir.join("investigator"),
        volunteer: dir.join("volunteer"),
        photos: dir.join("photos"),
        created_at: Utc::now(),
        summary,
        serving: false,
        pid: None,
    };
    write_manifest(dir, &m)?;
    Ok(m)
}

/// Invites a member through the running endpoint's admin socket; returns the code.
fn invite(rt: &tokio::runtime::Runtime, agency: &Path, role: casebridge_protocol::Role, name: &str) -> Result<String> {
    let req = InviteRequest {
        role,
        name: name.into(),
        expires_in_secs: 3600,
        url: None,
        valid_for_secs: Some(365 * 86_400),
        member: None,
        old_keys: None,
    };
    let body = serde_json::to_value(&req).map_err(|e| DemoError::Internal(format!("the invite request could not be written: {e}")))?;
    let answer = rt.block_on(admin::call(agency, "POST", "/admin/invite", Some(body)))?.ok_or(DemoError::AdminSilent)?;
    let resp: InviteResponse = serde_json::from_value(answer).map_err(DemoError::UnexpectedInvite)?;
    Ok(resp.code)
}

/// One sync round of a profile.
fn sync(rt: &tokio::runtime::Runtime, s: &Session) -> Result<casebridge_app::RoundReport> {
    Ok(rt.block_on(casebridge_app::sync::round(s.store(), s.dir(), Arc::new(AtomicBool::new(false)), &mut |_| {}))?)
}

fn rfc3339(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Everything the investigator and the volunteer do; returns the counts.
fn populate(rt: &tokio::runtime::Runtime, dir: &Path, agency: &Path, photos: &Photos, kdf: KdfParams) -> Result<Summary> {
    let inv = Session::new(dir.join("investigator")).with_kdf(kdf);
    inv.profile_create(INVESTIGATOR, Role::Investigator, DEMO_PASSPHRASE.into())?;
    let vol = Session::new(dir.join("volunteer")).with_kdf(kdf);
    vol.profile_create(VOLUNTEER, Role::Volunteer, DEMO_PASSPHRASE.into())?;
    let result = play(rt, agency, photos, &inv, &vol);
    // The stores are closed either way, so the desktop app can open them.
    inv.lock();
    vol.lock();
    result
}

fn play(rt: &tokio::runtime::Runtime, agency: &Path, photos: &Photos, inv: &Session, vol: &Session) -> Result<Summary> {
    use casebridge_protocol::Role as Wire;
    let code = invite(rt, agency, Wire::Investigator, INVESTIGATOR)?;
    rt.block_on(casebridge_app::enrol::enrol(inv.store(), &code))?;
    let code = invite(rt, agency, Wire::Volunteer, VOLUNTEER)?;
    rt.block_on(casebridge_app::enrol::enrol(vol.store(), &code))?;

    // The investigator's cases.
    let bikes = inv.case_create(
        "Bicycle thefts at Alexanderplatz",
        Some("A series of bicycle thefts from the racks around Alexanderplatz station, mostly in the evening.".into()),
        Some("BER-2026-000123".into()),
        vec!["bicycle".into(), "theft".into(), "mitte".into()],
    )?;
    inv.note_add(&bikes, "Station staff report a white van parked on Dircksenstrasse on two of the evenings.")?;
    inv.note_add(&bikes, "Two of the stolen bicycles were red cargo bikes; owners' statements are in the file.")?;
    let hit = inv.case_create(
        "Hit-and-run on Friedrichstrasse",
        Some("A cyclist was struck at the Friedrichstrasse / Leipziger Strasse crossing; the car drove off north.".into()),
        Some("BER-2026-000187".into()),
        vec!["traffic".into(), "hit-and-run".into()],
    )?;
    inv.note_add(&hit, "Witness: a dark estate car, partial plate B-K..., slight damage on the front right.")?;
    let graffiti = inv.case_create(
        "Graffiti at Rosenthaler Platz station",
        Some("Repeated graffiti on the U8 platform walls; the transit operator asked for help.".into()),
        Some("BER-2026-000201".into()),
        vec!["vandalism".into()],
    )?;
    inv.note_add(&graffiti, "Cleaning log from the operator requested.")?;

    let mut evidence = 0;
    for (case, names) in
        [(&bikes, vec!["cctv-rack-west", "cctv-rack-east"]), (&hit, vec!["crossing-overview"]), (&graffiti, vec!["platform-wall"])]
    {
        let case: Uuid = case.parse().map_err(|_| DemoError::Internal(format!("case id {case} is not a UUID")))?;
        let files = Checked::new(names.iter().map(|n| photos.get(n)).collect::<Result<_>>()?)?;
        let opts = EvidenceOptions { description: Some("Photo taken by the investigating officer".into()), ..Default::default() };
        evidence += import_files(inv.store(), case, &files, &opts, &AtomicBool::new(false), &mut |_| {})?.len();
    }

    // Briefs: where and when, for every volunteer of the agency.
    let now = Utc::now().with_timezone(&berlin());
    let bikes_brief = inv.brief_publish(BriefInput {
        case_id: bikes.clone(),
        title: "Bicycle racks at Alexanderplatz: photos from last week".into(),
        body: "Did you take photos near the bicycle racks around Alexanderplatz station in the evenings of the last ten days? \
               We are looking for a white van and for people carrying bolt cutters."
            .into(),
        area: Some(casebridge_app::Area { lat: 52.5219, lon: 13.4132, radius_m: 600.0 }),
        from: Some(rfc3339(now - Duration::days(10))),
        until: Some(rfc3339(now - Duration::hours(1))),
        audience: vec!["all".into()],
    })?;
    let hit_brief = inv.brief_publish(BriefInput {
        case_id: hit.clone(),
        title: "Hit-and-run on Friedrichstrasse: dashcam or phone footage".into(),
        body: "A cyclist was struck at the Friedrichstrasse / Leipziger Strasse crossing. Photos or video of a dark estate car \
               around that time help us."
            .into(),
        area: Some(casebridge_app::Area { lat: 52.5097, lon: 13.3889, radius_m: 400.0 }),
        from: Some(rfc3339(now - Duration::days(6))),
        until: Some(rfc3339(now - Duration::days(4))),
        audience: vec!["all".into()],
    })?;
    sync(rt, inv)?;

    // The volunteer: fetch the briefs, answer them, send.
    sync(rt, vol)?;
    vol.accept_conduct()?;
    let submit = |brief: &str, names: &[&str], description: &str| -> Result<String> {
        let paths = names.iter().map(|n| photos.get(n)).collect::<Result<Vec<_>>>()?;
        let s = vol.submit(SubmitInput {
            brief_id: brief.into(),
            paths,
            description: Some(description.into()),
            captured_at: None,
            location: None::<GeoPoint>,
        })?;
        Ok(s.id.to_string())
    };
    let s_accept =
        submit(&bikes_brief, &["bike-rack-evening", "white-van"], "The racks by the World Clock, and a white van that waited there.")?;
    let s_reject = submit(&bikes_brief, &["tram-stop"], "A man with a large bag at the tram stop.")?;
    let s_info = submit(&hit_brief, &["dark-car"], "A dark car driving off fast, north on Friedrichstrasse.")?;
    let s_pending = submit(&hit_brief, &["crossing-after"], "The crossing a few minutes later.")?;
    sync(rt, vol)?;

    // The investigator reviews.
    sync(rt, inv)?;
    inv.review_decide(&s_accept, ReviewDecision::Accepted, &[], None)?;
    inv.review_decide(
        &s_reject,
        ReviewDecision::Rejected,
        &[],
        Some("The photo shows the tram stop, outside the area of the brief.".into()),
    )?;
    inv.review_decide(
        &s_info,
        ReviewDecision::InfoRequested,
        &[],
        Some("Can you tell us the time more exactly, and did you see the number plate?".into()),
    )?;
    sync(rt, inv)?;
    sync(rt, vol)?;

    let subs = inv.submissions_list()?;
    let count = |state: &str| subs.iter().filter(|s| s.state.as_str() == state).count();
    let pending_ok = subs.iter().any(|s| s.id.to_string() == s_pending && s.state == casebridge_core::ReviewState::Pending);
    if !pending_ok {
        return Err(DemoError::Internal("the pending demo submission is missing".into()));
    }
    Ok(Summary {
        cases: inv.cases_list(None, None, casebridge_app::CaseSort::Updated)?.len(),
        briefs: inv.briefs_list(false)?.len(),
        evidence,
        submissions: subs.len(),
        accepted: count("accepted"),
        rejected: count("rejected"),
        info_requested: count("info_requested"),
        pending: count("pending"),
        receipts: vol.receipts_list()?.len(),
    })
}
