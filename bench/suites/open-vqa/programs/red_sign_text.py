def execute_command(image):
    # Question: What does the red sign say?
    # Answer with the text on the red sign, or "N/A" if there is no red sign.
    image_patch = ImagePatch(image)
    red_signs = image_patch.find("red sign")
    if len(red_signs) == 0:
        return "N/A"
    if len(red_signs) > 1:
        # Several candidates (orange and purple plates can pass the color filter):
        # keep the ones the attribute model also calls red
        confirmed = [s for s in red_signs if s.verify_property("sign", "red")]
        if len(confirmed) > 0:
            red_signs = confirmed
    return red_signs[0].simple_query("What does the sign say?")
