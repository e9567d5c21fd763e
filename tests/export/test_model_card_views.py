"""The model card names the hourglass's test-time views as kfusion.json records them."""
import pytest

INFO = {"input_size": 96, "num_joints_3d": 17, "num_joints_2d": 16, "heatmap_size": 24, "skeleton_3d": "h36m17",
        "skeleton_2d": "mpii16", "outputs": [], "networks": [], "fusion_pruned": True, "joints_3d": [],
        "joints_2d": []}


@pytest.mark.parametrize("flip,zoom,sentence", [
    (True, 0.875, "averaged over test-time views: the crop, its mirror image and its central 0.875 square "
                  "enlarged to the input (and that square's mirror image)."),
    (True, None, "averaged over test-time views: the crop and its mirror image."),
    (False, 0.75, "averaged over test-time views: the crop and its central 0.75 square enlarged to the input."),
    (False, None, None),
])
def test_the_card_says_which_views_the_maps_average(flip, zoom, sentence):
    from kfusion.export.model_card import model_card

    card = model_card("m", {**INFO, "flip_test": flip, "zoom_test": zoom}, source="m.keras", files={})
    if sentence is None:
        assert "test-time views" not in card
    else:
        assert sentence in " ".join(card.split())
